"""How close `runner run` comes to the quota's best makespan, and what it costs in requests.

Runs N tasks (default 500) at wan2.6 quotas (5 submissions/s, 5 concurrent) against the
in-process simulator with compressed time, then prints, from the simulator's ledger:

- LB: the makespan lower bound (reliability-performance.md §4.4) from the server's own
  scheduled/end times, R = 5/s, B = 1, C = 5, in server seconds;
- the observed makespan (first submission to last verified video, in server seconds);
- efficiency = LB / makespan (target >= 0.95);
- task-endpoint GETs per task, submit 429s, CPU per task (runner and in-process simulator
  together: they share the process) and peak memory.

    python bench/efficiency.py                   # 500 tasks, ~1 minute
    python bench/efficiency.py --tasks 10000 --time-scale 0.001
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

from runner.catalog import ENDPOINTS, SIM_API_KEY
from runner.client import DashScopeClient
from runner.efficiency import makespan_lower_bound
from runner.scheduler import DEFAULT_QUEUE_AHEAD, Engine, EngineConfig
from runner.simulator import SimConfig, create_app
from runner.store import JOURNAL_NAME, Store
from runner.tasks import MediaRef, TaskSpec, canonical_request, task_key

CONCURRENCY = 5
RATE = 5.0


def specs(count: int) -> list[TaskSpec]:
    """N distinct 720P 5 s wan2.6-i2v-flash tasks with remote images (never fetched)."""
    out = []
    for i in range(count):
        image = MediaRef("image", url=f"https://img.example/bench/{i}.png")
        params: dict[str, str | int | bool] = {"resolution": "720P", "duration": 5, "seed": i}
        prompt = f"Benchmark scene {i}"
        key = task_key(canonical_request("wan2.6-i2v-flash", prompt, None, image, None, params, None))
        out.append(TaskSpec(f"b{i:05d}", key, "wan2.6-i2v-flash", image, prompt, parameters=params))
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    config = SimConfig.profile(args.profile, time_scale=args.time_scale, seed=args.seed, video_bytes=8192)
    app = create_app(config)
    folder = Path(tempfile.mkdtemp(prefix="runner-bench-"))
    engine_config = EngineConfig(
        concurrency=CONCURRENCY,
        submit_rate=RATE,
        queue_ahead=args.queue_ahead,
        time_scale=args.time_scale,
        status_every=1e9,
    )
    started = time.perf_counter()
    with Store.open(folder / JOURNAL_NAME) as store:
        store.add_tasks(specs(args.tasks))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim.local/api/v1") as http:
            engine = Engine(
                store, DashScopeClient(http, SIM_API_KEY), folder, ENDPOINTS["sim"], engine_config
            )
            summary = await engine.run()
    wall = time.perf_counter() - started
    ledger = app.state.simulator.ledger()
    return {"summary": summary, "engine": engine, "ledger": ledger, "wall": wall}


def report(args: argparse.Namespace, result: dict[str, Any]) -> None:
    summary, engine, ledger = result["summary"], result["engine"], result["ledger"]
    runs = [s for s in ledger["submissions"] if s["scheduled_time"] is not None and s["end_time"] is not None]
    durations = [s["end_time"] - s["scheduled_time"] for s in runs]
    bound = makespan_lower_bound(durations, CONCURRENCY, RATE)
    stats = engine.stats
    observed = (stats.last_settled_local - stats.first_submit_local) / args.time_scale
    queries = sum(ledger["requests"].get("query", {}).values())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    rows = [
        ("tasks", f"{args.tasks} ({summary.done} done, {summary.failed} failed)"),
        ("time scale", f"{args.time_scale} (real s per server s); queue-ahead {args.queue_ahead}"),
        ("LB (server s)", f"{bound:,.0f}"),
        ("makespan (server s)", f"{observed:,.0f}"),
        ("efficiency LB/makespan", f"{bound / observed:.3f}"),
        ("GETs per task", f"{queries / args.tasks:.2f}"),
        ("submit 429s", str(ledger["throttled"].get("create", 0))),
        ("peak running (server)", str(max(ledger["peak_running"].values()))),
        ("CPU per task (runner+sim)", f"{1000 * cpu / args.tasks:.1f} ms"),
        ("peak memory", f"{usage.ru_maxrss / 1024:.0f} MB"),
        ("wall time", f"{result['wall']:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--time-scale", type=float, default=0.005)
    parser.add_argument("--queue-ahead", type=int, default=DEFAULT_QUEUE_AHEAD)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report(args, anyio.run(run, args))


if __name__ == "__main__":
    main()
