"""Time `runner plan` on a 100,000-row CSV in a subprocess; print wall time and peak memory.

Target: under 10 s and under 1 GB. Usage: python bench/plan_scale.py [ROWS]
Rows share two local images (hashed once each) and carry two meta columns.
"""

from __future__ import annotations

import csv
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "manifests" / "images"


def write_rows(folder: Path, count: int) -> Path:
    """A CSV of `count` distinct tasks over the demo images."""
    shutil.copytree(IMAGES, folder / "images")
    path = folder / "rows.csv"
    images = ("images/bridge.png", "images/rooftop.png")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", "img_url", "seed", "duration", "meta.batch", "meta.source"])
        for n in range(count):
            prompt = f"Shot {n}: a slow push-in on the scene as evening light fades, variation {n % 97}"
            writer.writerow([prompt, images[n % 2], n, 3 + n % 5, n // 1000, "bench"])
    return path


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = write_rows(folder, count)
        command = [
            sys.executable,
            "-m",
            "runner",
            "plan",
            str(rows),
            "--model",
            "wan2.6-i2v-flash",
            "--resolution",
            "720P",
            "--out",
            str(folder / "outputs"),
        ]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    if result.returncode != 0:
        print(result.stderr[-2000:])
        raise SystemExit(f"runner plan exited {result.returncode}")
    print(f"rows: {count:,}")
    print(f"wall time: {elapsed:.2f} s (target < 10 s)")
    print(f"peak memory: {peak_kb / 1024:.0f} MB (target < 1024 MB)")
    summary = [line for line in result.stdout.splitlines() if "tasks from" in line or "wall time" in line]
    print("\n".join(summary))


if __name__ == "__main__":
    main()
