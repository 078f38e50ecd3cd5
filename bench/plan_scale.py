"""Time `runner plan` on a 100,000-row CSV in a subprocess; print wall time and peak memory.

Two shapes of file (SHAPES):
- mixed: rows over the two demo images (hashed once each), with a duration and two meta columns;
- one-image: `prompt,img_url,seed`, every row naming the same 640×480 PNG (issue 29's file:
  target ≤ 5 s and ≤ 300 MB at 100,000 rows).

Usage: python bench/plan_scale.py [ROWS] [SHAPE]
"""

from __future__ import annotations

import csv
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
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


def write_one_image_rows(folder: Path, count: int) -> Path:
    """A CSV of `count` tasks of three columns, `prompt,img_url,seed`, all naming one 640×480 PNG."""
    (folder / "frame.png").write_bytes(_png(640, 480))
    path = folder / "rows.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", "img_url", "seed"])
        for n in range(count):
            writer.writerow([f"Shot {n}: a slow push-in on the scene as evening light fades", "frame.png", n])
    return path


#: the file shapes measured, by name
SHAPES: dict[str, Callable[[Path, int], Path]] = {"mixed": write_rows, "one-image": write_one_image_rows}


def _png(width: int, height: int) -> bytes:
    """A grey RGB PNG (no Pillow here: the runner does not depend on it)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress((b"\x00" + b"\x80" * (3 * width)) * height)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    shape = sys.argv[2] if len(sys.argv) > 2 else "one-image"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = SHAPES[shape](folder, count)
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
    print(f"rows: {count:,} ({shape})")
    print(f"wall time: {elapsed:.2f} s")
    print(f"peak memory: {peak_kb / 1024:.0f} MB")
    summary = [line for line in result.stdout.splitlines() if "tasks from" in line or "wall time" in line]
    print("\n".join(summary))


if __name__ == "__main__":
    main()
