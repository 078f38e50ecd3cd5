"""Section 4: `runner plan` and `runner run` on large manifests.

- plan: the bench/plan_scale.py CSVs (local images, hashed once each): the mixed file at 10,000 and
  100,000 rows, and issue 29's (`prompt,img_url,seed`, one 640×480 PNG) at 100,000, each
  three times (the median is the figure);
- run: the engine of `runner run` (in process, like section 1) against the in-process
  simulator with a high quota (the model's rate and concurrency overridden to 100, and the
  engine configured to match), 2 KB videos, fixed 30 s generation compressed 100×; then the
  same run again on the finished journal, three times, each in a fresh process as a user's
  resume is (the median is the figure; each must submit nothing, checked on its simulator's
  ledger), and one status table rewrite timed on the finished journal.

Why not the CLI against `runner sim serve`: a loopback server's time compression is
unknown to `runner run`, which then paces its requests at DashScope's real-time budgets
(15 task-endpoint requests per second): 10,000 tasks would measure that budget, not the runner.
CPU and memory therefore include the in-process simulator.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx

from bench.efficiency import specs
from bench.plan_scale import SHAPES
from bench.processes import measure, peak_rss_kb
from runner.api.client import DashScopeClient
from runner.core.endpoints import ENDPOINTS, SIM_API_KEY
from runner.engine import AccountLink, Engine, EngineConfig
from runner.journal.store import JOURNAL_NAME, Store
from runner.outputs.status_table import write_status_table
from runner.simulator import SimConfig, create_app

__all__ = ["run_section"]

T = TypeVar("T")

MODEL = "wan2.6-i2v-flash"
QUOTA = 100
#: times each plan and each resume is measured, the median kept: this shared machine's speed
#: drifts (a 100,000-task resume alone took 2.5-4.2 s, a 10,000-row plan 0.9-1.7 s)
REPEATS = 3
#: the `runner plan` measurements: rows and file shape (bench/plan_scale.py)
PLANS = [(10_000, "mixed"), (100_000, "mixed"), (100_000, "one-image")]


def _plan(rows: int, shape: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        folder = Path(tmp)
        manifest = SHAPES[shape](folder, rows)
        command = [sys.executable, "-m", "runner", "plan", str(manifest), "--model", MODEL]
        command += ["--resolution", "720P", "--out", str(folder / "outputs")]
        runs = [measure(command) for _ in range(REPEATS)]
    run = _median(runs, lambda r: r.wall_s)
    failed = next((r.returncode for r in runs if r.returncode), 0)
    figures = {"wall_s": run.wall_s, "cpu_s": run.cpu_s, "peak_mb": run.peak_mb, "exit": failed}
    return {"step": "plan", "tasks": rows, "shape": shape, **figures, "walls_s": [r.wall_s for r in runs]}


def _median(runs: list[T], wall: Callable[[T], float]) -> T:
    """The run of median wall time (REPEATS is odd), so its other figures come with it."""
    return sorted(runs, key=wall)[len(runs) // 2]


def _sim_config(time_scale: float) -> SimConfig:
    return SimConfig.profile(
        "fast",
        seed=3,
        time_scale=time_scale,
        video_bytes=2048,
        video_content="plain",  # the runner's cost, not the simulator's encoder
        models={MODEL: {"concurrency": QUOTA, "submit_rate": float(QUOTA)}},
        timing={"distribution": "fixed", "median_s": 30.0, "dispatch_delay_s": (0.05, 0.2)},
    )


def _journal_bytes(run_dir: Path) -> int:
    return sum(p.stat().st_size for p in run_dir.glob(JOURNAL_NAME + "*"))


def _status_table_s(run_dir: Path) -> float:
    with Store.open(run_dir / JOURNAL_NAME) as store:
        started = time.perf_counter()
        write_status_table(run_dir, store)
        return time.perf_counter() - started


async def _engine_pass(run_dir: Path, app: Any, count: int, time_scale: float) -> None:
    """One `runner run` pass: journal the tasks (idempotent), run the engine to the end."""
    config = EngineConfig(
        concurrency=QUOTA, submit_rate=float(QUOTA), time_scale=time_scale, status_every=1e9
    )
    with Store.open(run_dir / JOURNAL_NAME) as store:
        store.add_tasks(specs(count, MODEL))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim.local/api/v1") as http:
            client = DashScopeClient(http, SIM_API_KEY)
            await Engine(store, AccountLink(client, ENDPOINTS["sim"]), run_dir, config, seed=1).run()


def _timed_pass(run_dir: Path, app: Any, count: int, time_scale: float) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB, so far) of one pass."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    anyio.run(_engine_pass, run_dir, app, count, time_scale)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, peak_rss_kb() / 1024


def _creates(app: Any) -> int:
    return sum(app.state.simulator.ledger()["requests"].get("create", {}).values())


def _resume(run_dir: Path, count: int, time_scale: float) -> dict[str, Any]:
    """The resume pass on a finished journal, in this (fresh) process: its wall time and the
    creates its simulator received (a resume of a finished run must send none)."""
    app = create_app(_sim_config(time_scale))
    wall, _, _ = _timed_pass(run_dir, app, count, time_scale)
    return {"resume_s": wall, "resume_creates": _creates(app)}


def _resumes(run_dir: Path, count: int, time_scale: float) -> dict[str, Any]:
    """`_resume` REPEATS times, each in a new process: a user's resume never shares the first run's
    heap (here the first pass's simulator, with 100,000 tasks on its board, would slow every
    garbage collection). The median wall time, each one, and the most creates any of them saw."""
    args = ["resume", str(run_dir), str(count), str(time_scale)]
    runs = [_child_json(args, f"The {count}-task resume") for _ in range(REPEATS)]
    median = _median(runs, lambda r: float(r["resume_s"]))["resume_s"]
    creates = max(run["resume_creates"] for run in runs)
    return {"resume_s": median, "resume_runs_s": [r["resume_s"] for r in runs], "resume_creates": creates}


def _run(count: int, time_scale: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        run_dir = Path(tmp)
        app = create_app(_sim_config(time_scale))
        wall, cpu, peak = _timed_pass(run_dir, app, count, time_scale)
        resume = _resumes(run_dir, count, time_scale)
        ledger = app.state.simulator.ledger()
        done = len(list((run_dir / "videos").glob("*.mp4")))
        return {
            "step": "run",
            "tasks": count,
            "done": done,
            "wall_s": wall,
            "cpu_ms_per_task": 1000 * cpu / count,
            "peak_mb": peak,
            "journal_mb": _journal_bytes(run_dir) / 1e6,
            **resume,
            "status_table_s": _status_table_s(run_dir),
            "submit_429": ledger["throttled"].get("create", 0),
        }


def _child_json(args: list[str], what: str) -> dict[str, Any]:
    """Run `python -m bench.scale ARGS` and read the JSON line it prints last."""
    run = measure([sys.executable, "-m", "bench.scale", *args])
    if run.returncode != 0:
        raise RuntimeError(f"{what} failed: {run.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def _run_in_child(count: int, time_scale: float) -> dict[str, Any]:
    """`_run` in a fresh process, so its peak memory is its own."""
    return _child_json(["worker", str(count), str(time_scale)], f"The {count}-task scale run")


def run_section(smoke: bool, run_tasks: tuple[int, ...] = (10_000,)) -> list[dict[str, Any]]:
    """Plan each of PLANS, run at 10k (or `run_tasks`); tiny sizes when smoke."""
    plans = [(200, "mixed"), (200, "one-image")] if smoke else PLANS
    rows = [_plan(n, shape) for n, shape in plans]
    for count in (100,) if smoke else run_tasks:
        rows.append(_run_in_child(count, time_scale=0.005))
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        print(json.dumps(_run(int(sys.argv[2]), float(sys.argv[3]))))
    elif len(sys.argv) == 5 and sys.argv[1] == "resume":
        print(json.dumps(_resume(Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))))
    else:
        raise SystemExit("usage: python -m bench.scale worker TASKS TIME_SCALE | resume DIR TASKS TIME_SCALE")
