"""Section 3: `runner plan` and `runner run` on large manifests.

- plan: the bench/plan_scale.py CSV (local images, hashed once each) at 10,000 and 100,000 rows;
- run: a CSV of remote-image tasks against `runner sim serve` with a high quota (the model's
  rate and concurrency overridden to 100, matching --concurrency/--submit-rate), tiny
  videos and fixed 30 s generation compressed 100×; then the same command again (resume of
  a finished run: it must submit nothing, checked on the ledger), and one status table
  rewrite timed on the finished journal.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.plan_scale import write_rows
from bench.processes import measure, serve
from runner.status_table import write_status_table
from runner.store import JOURNAL_NAME, Store

__all__ = ["run_section"]

MODEL = "wan2.6-i2v-flash"
QUOTA = 100


def _plan(rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        folder = Path(tmp)
        manifest = write_rows(folder, rows)
        command = [sys.executable, "-m", "runner", "plan", str(manifest), "--model", MODEL]
        run = measure([*command, "--resolution", "720P", "--out", str(folder / "outputs")])
    return {"step": "plan", "tasks": rows, "wall_s": run.wall_s, "cpu_s": run.cpu_s, "peak_mb": run.peak_mb}


def _remote_rows(folder: Path, count: int) -> Path:
    path = folder / "scale.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "prompt", "img_url"])
        for n in range(count):
            writer.writerow(
                [f"r{n:06d}", f"Shot {n}: a slow push-in at dusk", f"https://img.example/s/{n}.png"]
            )
    return path


def _sim_settings(time_scale: float) -> dict[str, Any]:
    return {
        "profile": "fast",
        "seed": 3,
        "time_scale": time_scale,
        "video_bytes": 2048,
        "models": {MODEL: {"concurrency": QUOTA, "submit_rate": float(QUOTA)}},
        "timing": {"distribution": "fixed", "median_s": 30.0, "dispatch_delay_s": [0.05, 0.2]},
    }


def _journal_bytes(run_dir: Path) -> int:
    return sum(p.stat().st_size for p in run_dir.glob(JOURNAL_NAME + "*"))


def _status_table_s(run_dir: Path) -> float:
    with Store.open(run_dir / JOURNAL_NAME) as store:
        started = time.perf_counter()
        write_status_table(run_dir, store)
        return time.perf_counter() - started


def _run(count: int, time_scale: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        folder = Path(tmp)
        manifest = _remote_rows(folder, count)
        with serve(_sim_settings(time_scale)) as sim:
            command = [sys.executable, "-m", "runner", "run", str(manifest), "--model", MODEL]
            command += ["--resolution", "720P", "--duration", "5", "--endpoint", sim.url, "--no-progress"]
            command += [
                "--concurrency",
                str(QUOTA),
                "--submit-rate",
                str(QUOTA),
                "--out",
                str(folder / "out"),
            ]
            first = measure(command)
            creates = sum(sim.ledger()["requests"].get("create", {}).values())
            again = measure(command)
            ledger = sim.ledger()
        run_dir = folder / "out" / "scale"
        done = len(list((run_dir / "videos").glob("*.mp4")))
        return {
            "step": "run",
            "tasks": count,
            "done": done,
            "exit": first.returncode,
            "wall_s": first.wall_s,
            "cpu_ms_per_task": 1000 * first.cpu_s / count,
            "peak_mb": first.peak_mb,
            "journal_mb": _journal_bytes(run_dir) / 1e6,
            "resume_s": again.wall_s,
            "resume_exit": again.returncode,
            "resume_creates": sum(ledger["requests"].get("create", {}).values()) - creates,
            "resume_peak_mb": again.peak_mb,
            "status_table_s": _status_table_s(run_dir),
            "submit_429": ledger["throttled"].get("create", 0),
        }


def run_section(smoke: bool, run_tasks: int | None = None) -> list[dict[str, Any]]:
    """Plan at 10k and 100k rows, run at 10k (or `run_tasks`); tiny sizes when smoke."""
    plans = (200,) if smoke else (10_000, 100_000)
    rows = [_plan(n) for n in plans]
    count = run_tasks or (100 if smoke else 10_000)
    rows.append(_run(count, time_scale=0.01))
    return rows
