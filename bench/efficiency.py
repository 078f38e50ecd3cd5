"""Section 1: how close `runner run` comes to the quota's best makespan, and what it costs.

Each scenario runs N tasks through the engine against the in-process simulator with
compressed time, then reads, from the simulator's ledger and the journal:

- LB: the makespan lower bound (docs/performance.md) from the generation
  times the simulator actually drew (scheduled/end), with the quota's R, C and B = 1;
- the observed makespan (first submission to last verified video), in server seconds;
- efficiency = LB / makespan (target >= 0.97 at N >= 500), task-endpoint requests per
  task, submit 429s (target 0), and the delay from a task's end on the server to its
  verified video on disk (mean, p95; server seconds);
- for comparison, the GETs the SDK's `wait()` would make for the same tasks (its poll
  schedule applied to each task's submit-to-end time: a computation, not a run).

    python bench/efficiency.py                   # one scenario: 500 tasks at 5/s, 5 running
    python bench/efficiency.py --tasks 5000 --time-scale 0.0005 --mode reject --quota 2
    python bench/efficiency.py --mixed           # both quota classes' models in one manifest

A *mixed* scenario splits the N tasks 5:2 between a 5/s·5 model and a 2/s·2 one, so each
model alone would need about the same time; its LB is the larger of the two models' bounds,
which only a run that keeps both models' quotas busy at once can approach.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

from runner.api.client import DashScopeClient
from runner.core.efficiency import makespan_lower_bound
from runner.core.endpoints import ENDPOINTS, SIM_API_KEY
from runner.core.tasks import MediaItem, MediaRef, TaskSpec, TaskState, canonical_request, task_key
from runner.engine import DEFAULT_QUEUE_AHEAD, AccountLink, Engine, EngineConfig
from runner.journal.store import JOURNAL_NAME, Store
from runner.planning.quotas import model_quotas
from runner.simulator import SimConfig, create_app

__all__ = ["QUOTA_MODELS", "Scenario", "matrix", "run_scenario", "sdk_gets", "specs"]

#: quota class (submissions/s = concurrent tasks) -> a catalogue model with that quota
QUOTA_MODELS = {5: "wan2.6-i2v-flash", 2: "wan2.2-i2v-flash"}


@dataclass(frozen=True)
class Scenario:
    """One cell of the efficiency matrix."""

    tasks: int
    quota: int = 5  #: submit rate per second and concurrent tasks (5 or 2)
    mode: str = "queue"  #: the simulator's answer to surplus submissions: queue | reject
    distribution: str = "lognormal"  #: lognormal | heavy
    time_scale: float = 0.002  #: real seconds per server second
    queue_ahead: int = DEFAULT_QUEUE_AHEAD
    seed: int = 1
    label: str = ""  #: set on control cells (another time scale or queue-ahead than the grid's)
    mixed: bool = False  #: the tasks split 5:2 between both quota classes' models (`quota` unused)

    @property
    def name(self) -> str:
        quota = "5/s·5 + 2/s·2" if self.mixed else f"{self.quota}/s·{self.quota}"
        base = f"{quota} {self.mode} {self.distribution} N={self.tasks}"
        return f"{base} ({self.label})" if self.label else base

    def task_counts(self) -> dict[int, int]:
        """Tasks per quota class."""
        if not self.mixed:
            return {self.quota: self.tasks}
        fast = round(self.tasks * 5 / 7)
        return {5: fast, 2: self.tasks - fast}


def matrix(smoke: bool) -> list[Scenario]:
    """The scenarios of a run: a tiny pair for --smoke, else the full quota × mode × shape × N grid.

    Time scales keep the grid under an hour. Every slot handoff costs about 2 ms of real
    time (the look, journal, the fsync'd submit intent, the POST), which compression turns
    into server seconds: with no queue-ahead (the default) each handoff idles a slot in both
    modes, so no cell runs beyond 0.003, where 2 ms are 0.7 server seconds.
    Heavy-tailed runs stop at N = 500: one Pareto task may run for hours of server time.
    """
    if smoke:
        return [
            Scenario(20, 5, "queue", time_scale=0.001),
            Scenario(20, 2, "reject", time_scale=0.001),
            Scenario(14, mode="reject", time_scale=0.001, mixed=True),
        ]
    scales = {50: 0.01, 500: 0.005, 5000: 0.003}
    cells = []
    for quota in (5, 2):
        for mode in ("queue", "reject"):
            for distribution in ("lognormal", "heavy"):
                for tasks in (50, 500, 5000):
                    if distribution == "heavy" and tasks == 5000:
                        continue
                    cells.append(Scenario(tasks, quota, mode, distribution, time_scale=scales[tasks]))
    return cells + _controls()


def _controls() -> list[Scenario]:
    """Controls: half the compression (how much of the gap is the real-time cost of each
    handoff); `--queue-ahead 2` in both modes (what opting in gains when the server queues
    surplus, and what its probe costs when the server refuses it); two models in one manifest
    (each model's quota kept busy at once)."""
    return [
        Scenario(500, mode="queue", time_scale=0.005, mixed=True, label="control: two models"),
        Scenario(500, mode="reject", time_scale=0.005, mixed=True, label="control: two models"),
        Scenario(5000, mode="queue", time_scale=0.003, mixed=True, label="control: two models"),
        Scenario(5000, mode="reject", time_scale=0.003, mixed=True, label="control: two models"),
        Scenario(500, 5, "reject", time_scale=0.01, label="control: scale 0.01"),
        Scenario(500, 5, "queue", time_scale=0.002, queue_ahead=2, label="control: --queue-ahead 2"),
        Scenario(500, 5, "reject", time_scale=0.005, queue_ahead=2, label="control: --queue-ahead 2"),
    ]


def specs(count: int, model: str = "wan2.6-i2v-flash", first: int = 0) -> list[TaskSpec]:
    """N distinct 720P 5 s tasks with remote images (never fetched), numbered from `first`."""
    out = []
    for i in range(first, first + count):
        media = (MediaItem("first_frame", MediaRef("image", url=f"https://img.example/bench/{i}.png")),)
        params: dict[str, str | int | bool] = {"resolution": "720P", "duration": 5, "seed": i}
        prompt = f"Benchmark scene {i}"
        key = task_key(canonical_request(model, prompt, None, media, params, None))
        out.append(TaskSpec(f"b{i:05d}", key, model, media, prompt, parameters=params))
    return out


async def _run_engine(scenario: Scenario, folder: Path) -> dict[str, Any]:
    batch: list[TaskSpec] = []
    for quota, count in scenario.task_counts().items():
        batch += specs(count, QUOTA_MODELS[quota], first=len(batch))
    config = SimConfig.profile(
        "fast",
        time_scale=scenario.time_scale,
        seed=scenario.seed,
        concurrency_mode=scenario.mode,
        timing={"distribution": scenario.distribution},
        video_content="plain",  # encoding thousands of scenes would take the runner's time
    )
    app = create_app(config)
    sim_start = app.state.simulator.clock._start  # monotonic instant of server t = 0
    engine_config = EngineConfig(
        concurrency=scenario.quota,
        submit_rate=float(scenario.quota),
        queue_ahead=scenario.queue_ahead,
        time_scale=scenario.time_scale,
        status_every=1e9,
        quotas=model_quotas(QUOTA_MODELS[quota] for quota in scenario.task_counts()),
    )
    with Store.open(folder / JOURNAL_NAME) as store:
        store.add_tasks(batch)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim.local/api/v1") as http:
            client = DashScopeClient(http, SIM_API_KEY)
            engine = Engine(
                store, AccountLink(client, ENDPOINTS["sim"]), folder, engine_config, seed=scenario.seed
            )
            summary = await engine.run()
        done_at = {r.task_id: r.updated_at for r in store.records([TaskState.DONE])}
    return {
        "summary": summary,
        "stats": engine.stats,
        "ledger": app.state.simulator.ledger(),
        "sim_start": sim_start,
        "done_at": done_at,
    }


def _delays(run: dict[str, Any], scale: float) -> list[float]:
    """Server seconds from each task's end on the server to its journalled DONE."""
    wall_minus_mono = time.time() - time.monotonic()
    out = []
    for entry in run["ledger"]["submissions"]:
        done = run["done_at"].get(entry["task_id"])
        if done is None or entry["end_time"] is None:
            continue
        ended_wall = run["sim_start"] + entry["end_time"] * scale + wall_minus_mono
        out.append(max(0.0, (done - ended_wall) / scale))
    return out


def _lower_bound(scenario: Scenario, ran: list[dict[str, Any]]) -> float:
    """The makespan bound of the drawn generation times: each model's at its quota, the largest."""
    bounds = []
    for quota in scenario.task_counts():
        times = [s["end_time"] - s["scheduled_time"] for s in ran if s["model"] == QUOTA_MODELS[quota]]
        if times:
            bounds.append(makespan_lower_bound(times, quota, float(quota)))
    return max(bounds, default=0.0)


def sdk_gets(seconds: float) -> int:
    """GETs `VideoSynthesis.wait` makes for a task that ends `seconds` after its submission: it
    polls at 0, 1, 2, 4, 6, 8, 12, 16, 20, 25, 30, ... s (docs/performance.md)."""
    gaps = (1, 1, 2, 2, 2, 4, 4, 4)
    moment, count = 0.0, 1
    while moment < seconds:
        moment += gaps[count - 1] if count <= len(gaps) else 5
        count += 1
    return count


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20)[-1]


def run_scenario(scenario: Scenario) -> dict[str, Any]:
    """Run one scenario and return its figures as plain data."""
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="runner-bench-") as tmp:
        run = anyio.run(_run_engine, scenario, Path(tmp))
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    ledger, stats, summary = run["ledger"], run["stats"], run["summary"]
    ran = [s for s in ledger["submissions"] if s["scheduled_time"] is not None and s["end_time"] is not None]
    durations = [s["end_time"] - s["scheduled_time"] for s in ran]
    bound = _lower_bound(scenario, ran)
    makespan = (stats.last_settled_local - stats.first_submit_local) / scenario.time_scale
    task_requests = sum(sum(ledger["requests"].get(ep, {}).values()) for ep in ("create", "query", "list"))
    delays = _delays(run, scenario.time_scale)
    return {
        "scenario": asdict(scenario),
        "name": scenario.name,
        "done": summary.done,
        "failed": summary.failed,
        "lb_s": bound,
        "makespan_s": makespan,
        "efficiency": bound / makespan if makespan > 0 else None,
        "requests_per_task": task_requests / scenario.tasks,
        "gets_per_task": sum(ledger["requests"].get("query", {}).values()) / scenario.tasks,
        "lists_per_task": sum(ledger["requests"].get("list", {}).values()) / scenario.tasks,
        "sdk_gets_per_task": statistics.fmean(sdk_gets(s["end_time"] - s["submit_time"]) for s in ran)
        if ran
        else None,
        "submit_429": ledger["throttled"].get("create", 0),
        "peak_task_rps": ledger["peak_per_second"].get("tasks", 0),  # per server second
        "delay_mean_s": statistics.fmean(delays) if delays else None,
        "delay_p95_s": _p95(delays) if delays else None,
        "mean_generation_s": statistics.fmean(durations) if durations else None,
        "peak_running": max(ledger["peak_running"].values(), default=0),
        "peak_running_by_model": ledger["peak_running"],
        "cpu_ms_per_task": 1000 * cpu / scenario.tasks,
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--quota", type=int, choices=sorted(QUOTA_MODELS), default=5)
    parser.add_argument("--mode", choices=("queue", "reject"), default="queue")
    parser.add_argument("--distribution", choices=("lognormal", "heavy", "fixed"), default="lognormal")
    parser.add_argument("--time-scale", type=float, default=0.002)
    parser.add_argument("--queue-ahead", type=int, default=DEFAULT_QUEUE_AHEAD)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mixed", action="store_true", help="both quota classes' models, tasks split 5:2")
    args = parser.parse_args()
    scenario = Scenario(
        args.tasks,
        args.quota,
        args.mode,
        args.distribution,
        args.time_scale,
        args.queue_ahead,
        args.seed,
        mixed=args.mixed,
    )
    for name, value in run_scenario(scenario).items():
        print(f"{name:<20} {value}")


if __name__ == "__main__":
    main()
