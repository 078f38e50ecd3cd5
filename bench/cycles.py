"""Where a slot's seconds go: `runner run --trace` read against the simulator's ledger.

A *cycle* is one slot handoff with no task queued on the server behind it: a task ends on the
server, the runner sees it end (a list call or its GET), its submit loop takes the next task,
the model's pacer lets it go, its inputs are made ready, its intent is journalled and fsync'd,
the create reaches the server, and the server dispatches it to the freed slot. The k-th end the
runner saw frees the slot the (C + k)-th task it took fills (the first C fill empty slots).
Each step's time comes from the trace's wall-clock stamps and the server's own times (the
ledger's, made wall-clock by its epoch), so the steps of a cycle add up to the time its slot
stood idle:

    detect    server end -> the runner saw it           (how often it looks)
    wake      seen -> the next task taken from the queue (the submit loop's wake-up)
    pace      taken -> let go by the model's pacer
    prepare   let go -> the intent about to be journalled (inputs ready: uploads, data: URLs)
    fsync     the intent journalled and on disk
    post      on disk -> the create received by the server (request build, HTTP)
    dispatch  received -> started on the server         (the service's own, no client's)

    python -m bench.cycles TRACE.jsonl LEDGER.json 5   # one run's breakdown, printed
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

__all__ = ["STEPS", "breakdown", "read_trace"]

STEPS: Final = ("detect", "wake", "pace", "prepare", "fsync", "post", "dispatch")


def read_trace(path: Path) -> list[dict[str, Any]]:
    """The trace's lines, in file order."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def breakdown(lines: Iterable[dict[str, Any]], ledger: dict[str, Any], concurrency: int) -> dict[str, Any]:
    """Mean and p95 seconds of each step over the run's cycles, and of the idle slot they add to."""
    cycles = _cycles(list(lines), ledger, concurrency)
    if not cycles:
        return {"cycles": 0, "mean": {}, "p95": {}, "idle_mean": None, "idle_p95": None}
    idle = [sum(c.values()) for c in cycles]
    return {
        "cycles": len(cycles),
        "mean": {step: statistics.fmean(c[step] for c in cycles) for step in STEPS},
        "p95": {step: _p95([c[step] for c in cycles]) for step in STEPS},
        "idle_mean": statistics.fmean(idle),
        "idle_p95": _p95(idle),
    }


def _cycles(lines: list[dict[str, Any]], ledger: dict[str, Any], concurrency: int) -> list[dict[str, float]]:
    epoch, scale = ledger["epoch"], ledger.get("time_scale", 1.0)
    server = {s["task_id"]: s for s in ledger["submissions"]}
    task_ids = {line["task"]: line["task_id"] for line in lines if line["step"] == "accepted"}
    steps: dict[tuple[str, str], float] = {}
    for line in lines:
        steps.setdefault((line["task"], line["step"]), line["t"])  # a task's first of each step

    def server_time(task: str, field: str) -> float | None:
        entry = server.get(task_ids.get(task, ""))
        value = entry.get(field) if entry else None
        return None if value is None else epoch + value * scale

    seen = sorted((t, task) for (task, step), t in steps.items() if step == "seen_end")
    taken = sorted((t, task) for (task, step), t in steps.items() if step == "taken")
    out = []
    for (seen_at, ended), (_, nxt) in zip(seen, taken[concurrency:], strict=False):
        stamps = [
            server_time(ended, "end_time"),
            seen_at,
            steps.get((nxt, "taken")),
            steps.get((nxt, "paced")),
            steps.get((nxt, "intent")),
            steps.get((nxt, "durable")),
            server_time(nxt, "submit_time"),
            server_time(nxt, "scheduled_time"),
        ]
        if any(stamp is None for stamp in stamps):
            continue  # a retry, a task that never started: not a plain handoff
        known = [float(stamp) for stamp in stamps if stamp is not None]
        out.append(
            {step: later - earlier for step, earlier, later in zip(STEPS, known[:-1], known[1:], strict=True)}
        )
    return out


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str]) -> None:
    trace, ledger, concurrency = Path(argv[0]), json.loads(Path(argv[1]).read_text()), int(argv[2])
    result = breakdown(read_trace(trace), ledger, concurrency)
    idle = f"idle slot mean {result['idle_mean']:.3f} s, p95 {result['idle_p95']:.3f} s"
    print(f"{result['cycles']} cycles; {idle}")
    for step in STEPS:
        print(f"  {step:<9} mean {result['mean'][step]:7.3f} s   p95 {result['p95'][step]:7.3f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
