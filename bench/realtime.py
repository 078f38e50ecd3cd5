"""Section 2: efficiency in real time, the way a user meets it: `runner run` against `runner sim serve`
on a loopback port, beside the official SDK's documented pattern on the same batch.

Each scenario (median generation time × tasks of wan2.6-i2v-flash, 5/s and 5 at once, the
simulator's default profile with `timing: {median_s: M}`, seed 5) runs `runner run --trace`
and bench/sdk_baseline.py side by side, each against its own fresh simulator with the same
config (the same seed draws the same times for the k-th create of either client), twice.

- **LB**: the makespan lower bound of the generation times the simulator drew (docs/performance.md);
- **makespan**: from the first create the server received to the last video on disk (its mtime);
- **ceiling**: LB over the makespan a client that never lags would get from the same draws (each
  create sent the instant a slot frees, at 5/s, then the server's own dispatch delay): what no
  client without a queued task on the server can beat;
- **peak req/s**: the most task-endpoint requests (query, list, cancel) within one second (of the
  server's clock), from the simulator's ledger;
- the cycle breakdown (bench/cycles.py): where each slot handoff's idle seconds went.

    python -m bench.realtime --median 9 --tasks 50     # one scenario, both clients, printed
    python -m bench.realtime --ceilings                # the ceiling of 50 9 s tasks, seeds 1-100
"""

from __future__ import annotations

import argparse
import heapq
import os
import statistics
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from bench import sdk_compare
from bench.cycles import STEPS, breakdown, read_trace
from bench.sdk_compare import ClientRun
from runner.core.efficiency import makespan_lower_bound
from runner.simulator.config import TimingConfig
from runner.simulator.draws import draw_task

__all__ = [
    "ceilings",
    "greedy_makespan",
    "ideal_makespan",
    "run_scenario",
    "run_section",
    "summary_rows",
    "table",
]

SCENARIOS: Final = ((9.0, 50), (9.0, 200), (30.0, 50), (30.0, 200))  #: (median s, tasks)
#: what opting in to queue-ahead gains where the server queues surplus (its dispatch is hidden)
CONTROL_QUEUE_AHEAD: Final = 2
REPEATS: Final = 2
SEED: Final = 5
RATE: Final = 5.0
CONCURRENCY: Final = sdk_compare.CONCURRENCY
TASK_ENDPOINTS: Final = ("query", "list", "cancel")

Row = tuple[str, str, str, str]


def settings(median_s: float, time_scale: float = 1.0) -> dict[str, Any]:
    """The simulator's config: its default profile with tasks of this median, seeded."""
    return {"seed": SEED, "time_scale": time_scale, "timing": {"median_s": median_s}}


def ideal_makespan(ledger: dict[str, Any]) -> float:
    """Real seconds a client that never lags would take with the ledger's draws."""
    scale = ledger["time_scale"]
    draws = [
        (s["dispatch_delay_s"] * scale, (s["end_time"] - s["scheduled_time"]) * scale)
        for s in sorted(ledger["submissions"], key=lambda s: s["index"])
        if s["scheduled_time"] is not None and s["end_time"] is not None
    ]
    return greedy_makespan(draws)


def greedy_makespan(draws: list[tuple[float, float]]) -> float:
    """The makespan of (dispatch delay, generation time) draws, in submission order, for a client
    that sends each create the instant a slot frees (at RATE per second)."""
    free = [0.0] * CONCURRENCY
    sent, ends = -1.0 / RATE, []
    for dispatch, generation in draws:
        sent = max(heapq.heappop(free), sent + 1.0 / RATE)
        ends.append(sent + dispatch + generation)
        heapq.heappush(free, ends[-1])
    return max(ends, default=0.0)


def _figures(run: ClientRun, count: int) -> dict[str, Any]:
    ledger, scale = run.ledger, run.ledger["time_scale"]
    ran = [s for s in ledger["submissions"] if s["scheduled_time"] is not None and s["end_time"] is not None]
    bound = makespan_lower_bound(
        [(s["end_time"] - s["scheduled_time"]) * scale for s in ran], CONCURRENCY, RATE / scale
    )
    first = ledger["epoch"] + min(s["submit_time"] for s in ledger["submissions"]) * scale
    last = max((path.stat().st_mtime for _, path in run.videos.values() if path.is_file()), default=first)
    requests = ledger["requests"]
    task_requests = sum(sum(requests.get(ep, {}).values()) for ep in (*TASK_ENDPOINTS, "create"))
    peaks = ledger["peak_per_second"]
    return {
        "client": run.client,
        "tasks": count,
        "lb_s": bound,
        "makespan_s": last - first,
        "efficiency": bound / (last - first),
        "ceiling": bound / ideal_makespan(ledger),
        "wall_s": run.measured.wall_s,
        "requests_per_task": task_requests / count,
        "gets_per_task": sum(requests.get("query", {}).values()) / count,
        "lists_per_task": sum(requests.get("list", {}).values()) / count,
        "peak_task_rps": peaks.get("tasks", 0),  # per server second: the unit of the quotas
        "peak_create_rps": peaks.get("create", 0),
        "submit_429": ledger["throttled"].get("create", 0),
        "delivered": sdk_compare.verified(run),
        "cpu_s": run.measured.cpu_s,
        "exit": run.measured.returncode,
    }


def _runner_side(
    batch: list[dict[str, Any]], config: dict[str, Any], count: int, queue_ahead: int = 0
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-realtime-") as tmp:
        trace = Path(tmp) / "trace.jsonl"
        extra = ["--trace", str(trace)] + (["--queue-ahead", str(queue_ahead)] if queue_ahead else [])
        run = sdk_compare.run_runner(batch, config, Path(tmp), extra)
        # with tasks queued on the server, slots are refilled by the server, not by handoffs
        handoffs = trace.is_file() and not queue_ahead
        cycles = breakdown(read_trace(trace), run.ledger, CONCURRENCY) if handoffs else None
        return {**_figures(run, count), "cycles": cycles}


def _sdk_side(batch: list[dict[str, Any]], config: dict[str, Any], count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-realtime-") as tmp:
        return _figures(sdk_compare.run_sdk(batch, config, Path(tmp)), count)


def run_scenario(
    median_s: float, count: int, repeat: int = 1, time_scale: float = 1.0, queue_ahead: int = 0
) -> list[dict[str, Any]]:
    """Both clients at once, each against its own simulator; their two rows (`queue_ahead`:
    runner's --queue-ahead, for the control)."""
    batch, config = sdk_compare.tasks(count), settings(median_s, time_scale)
    load = os.getloadavg()[0]
    sides: list[Callable[[], dict[str, Any]]] = [
        lambda: _runner_side(batch, config, count, queue_ahead),
        lambda: _sdk_side(batch, config, count),
    ]
    rows: list[dict[str, Any]] = [{} for _ in sides]

    def work(index: int) -> None:
        rows[index] = sides[index]()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(sides))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    scenario = {
        "median_s": median_s,
        "tasks": count,
        "repeat": repeat,
        "time_scale": time_scale,
        "queue_ahead": queue_ahead,
    }
    name = f"{median_s:g} s × {count}" + (f" (control: --queue-ahead {queue_ahead})" if queue_ahead else "")
    loads = {"load_start": load, "load_end": os.getloadavg()[0]}
    return [{"name": name, "scenario": scenario, **row, **loads} for row in rows]


def run_section(smoke: bool) -> list[dict[str, Any]]:
    """Every scenario REPEATS times (a tiny compressed one when smoke)."""
    if smoke:
        return run_scenario(9.0, 6, time_scale=0.05)
    rows = []
    cells = [(median_s, count, 0) for median_s, count in SCENARIOS] + [(9.0, 50, CONTROL_QUEUE_AHEAD)]
    for median_s, count, queue_ahead in cells:
        for repeat in range(1, REPEATS + 1):
            pair = run_scenario(median_s, count, repeat, queue_ahead=queue_ahead)
            ours = pair[0]
            print(f"  {ours['name']} #{repeat}: LB/makespan {ours['efficiency']:.3f}", flush=True)
            rows += pair
    return rows


# -- the report ------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _pairs(data: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(runner row, SDK row) of each run."""
    by: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for row in data["rows"]:
        by.setdefault((row["name"], row["scenario"]["repeat"]), {})[row["client"]] = row
    return [(p["runner run"], p["dashscope SDK"]) for p in by.values() if len(p) == 2]


def summary_rows(data: dict[str, Any]) -> list[Row]:
    every = _pairs(data)
    pairs = [(ours, sdk) for ours, sdk in every if not ours["scenario"].get("queue_ahead")]
    if data.get("smoke") or not pairs:
        return []
    out: list[Row] = []
    short = [(ours, sdk) for ours, sdk in pairs if (ours["scenario"]["median_s"], ours["tasks"]) == (9.0, 50)]
    if short:
        worst = min(ours["efficiency"] for ours, _ in short)
        ceiling = min(ours["ceiling"] for ours, _ in short)
        runs = ", ".join(f"{ours['efficiency']:.3f}" for ours, _ in short)
        value = f"{runs} (ceiling {ceiling:.3f})"
        out.append(("Real time, 9 s tasks, N = 50: LB/makespan", "≥ 0.92", value, _verdict(worst >= 0.92)))
        ratios = [sdk["makespan_s"] / ours["makespan_s"] for ours, sdk in short]
        value = ", ".join(f"{r:.2f}" for r in ratios)
        figure = "Real time, 9 s tasks, N = 50: makespan, SDK / runner"
        out.append((figure, "≥ 1.25", value, _verdict(min(ratios) >= 1.25)))
    long = [ours for ours, _ in pairs if ours["scenario"]["median_s"] == 30.0]
    if long:
        worst_row = min(long, key=lambda r: r["efficiency"])
        value = (
            f"{worst_row['efficiency']:.3f} worst ({worst_row['name']}, ceiling {worst_row['ceiling']:.3f})"
        )
        out.append(
            ("Real time, 30 s tasks: LB/makespan", "≥ 0.95", value, _verdict(worst_row["efficiency"] >= 0.95))
        )
    peak = max(ours["peak_task_rps"] for ours, _ in every)
    out.append(
        ("Real time: peak task-endpoint requests/s of one run", "≤ 5", f"{peak:g}", _verdict(peak <= 5))
    )
    throttled = sum(ours["submit_429"] for ours, _ in every)
    out.append((f"Real time: submit 429s ({len(every)} runs)", "0", str(throttled), _verdict(throttled == 0)))
    return out


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def table(data: dict[str, Any]) -> str:
    """The runs side by side, then where each runner run's slot handoffs lost their seconds."""
    header = [
        "Scenario", "Run", "Client", "LB (s)", "Makespan (s)", "LB/makespan", "Ceiling", "SDK / runner",
        "Req/task", "GET/task", "List/task", "Peak req/s", "429s", "Delivered", "Load (start, end)",
    ]  # fmt: skip
    rows = [_client_cells(row, ours, sdk) for ours, sdk in _pairs(data) for row in (ours, sdk)]
    cycle_header = ["Scenario", "Run", "Cycles", "Idle slot mean / p95 (s)", *[f"{s} (s)" for s in STEPS]]
    cycle_rows = [_cycle_cells(ours) for ours, _ in _pairs(data) if (ours.get("cycles") or {}).get("cycles")]
    return _markdown(header, rows) + "\n\n" + _markdown(cycle_header, cycle_rows)


def _client_cells(row: dict[str, Any], ours: dict[str, Any], sdk: dict[str, Any]) -> list[str]:
    ratio = f"{sdk['makespan_s'] / ours['makespan_s']:.2f}" if row is ours else ""
    return [
        row["name"], str(row["scenario"]["repeat"]), row["client"], _num(row["lb_s"]),
        _num(row["makespan_s"]), f"{row['efficiency']:.3f}", f"{row['ceiling']:.3f}", ratio,
        _num(row["requests_per_task"], 2),
        _num(row["gets_per_task"], 2), _num(row["lists_per_task"], 2), f"{row['peak_task_rps']:g}",
        str(row["submit_429"]), f"{row['delivered']}/{row['tasks']}",
        f"{row['load_start']:.1f}, {row['load_end']:.1f}",
    ]  # fmt: skip


def _cycle_cells(ours: dict[str, Any]) -> list[str]:
    cycles = ours["cycles"]
    idle = f"{_num(cycles['idle_mean'], 2)} / {_num(cycles['idle_p95'], 2)}"
    steps = [_num(cycles["mean"].get(step), 3) for step in STEPS]
    return [ours["name"], str(ours["scenario"]["repeat"]), str(cycles["cycles"]), idle, *steps]


def ceilings(median_s: float, count: int, seeds: range, *, dispatch: bool = True) -> list[float]:
    """LB over the greedy makespan for each seed's draws (the simulator's default timing with
    this median; `dispatch=False`: no dispatch delay, the tail alone)."""
    timing = TimingConfig(median_s=median_s)
    out = []
    for seed in seeds:
        draws = [draw_task(seed, index, timing, "720P", 5, {}) for index in range(1, count + 1)]
        times = [d.generation_seconds for d in draws]
        pairs = [(d.dispatch_delay if dispatch else 0.0, d.generation_seconds) for d in draws]
        out.append(makespan_lower_bound(times, CONCURRENCY, RATE) / greedy_makespan(pairs))
    return out


def _print_ceilings(median_s: float, count: int) -> None:
    for dispatch in (True, False):
        values = ceilings(median_s, count, range(1, 101), dispatch=dispatch)
        what = "with the server's dispatch" if dispatch else "the tail alone"
        print(
            f"{median_s:g} s x {count}, {what}: seed {SEED} {values[SEED - 1]:.3f}; seeds 1-100 mean "
            f"{statistics.fmean(values):.3f}, worst {min(values):.3f}, best {max(values):.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--median", type=float, default=9.0, help="median generation time, seconds")
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--queue-ahead", type=int, default=0, help="runner's --queue-ahead")
    parser.add_argument("--ceilings", action="store_true", help="only print the ceilings over seeds 1-100")
    args = parser.parse_args()
    if args.ceilings:
        _print_ceilings(args.median, args.tasks)
        return
    rows = run_scenario(args.median, args.tasks, time_scale=args.time_scale, queue_ahead=args.queue_ahead)
    print(table({"rows": rows}))


if __name__ == "__main__":
    main()
