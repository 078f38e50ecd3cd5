"""The plan: a manifest's tasks against a run's journal, with cost and wall-time estimates.

Pure: specs and journal records in, a `Plan` out. Each task is new (never
submitted), done, changed (same id, different content key), failed (failed,
expired or cancelled: only rerun on request) or in flight (submitted, not finished).
Cost counts what would run now (new, changed, in flight); failed tasks are priced
separately. Wall time per model is the makespan bound
`max(N / rate, Σ generation_s / concurrency) + one typical generation` at the model's own
quota (DashScope's quotas are per model, and so are the engine's lanes), so the run takes
as long as its slowest model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from runner.core import (
    Endpoint,
    TaskRecord,
    TaskSpec,
    TaskState,
    billed_seconds,
    estimate_generation_s,
    get_model,
    task_cost,
)
from runner.manifest import Limits
from runner.planning.quotas import Quota, model_quotas

__all__ = [
    "WILL_RUN",
    "CostLine",
    "Disposition",
    "ModelEstimate",
    "Plan",
    "PlannedTask",
    "build_plan",
    "disposition_counts",
    "task_cost",
]

_FAILED_STATES: Final = frozenset({TaskState.FAILED, TaskState.EXPIRED, TaskState.CANCELLED})


class Disposition(StrEnum):
    """What a run would do with a task, given the journal."""

    NEW = "new"  #: never submitted: will be submitted
    CHANGED = "changed"  #: same id, different content: replanned from scratch
    IN_FLIGHT = "in_flight"  #: submitted earlier and not finished: will be resumed
    FAILED = "failed"  #: failed, expired or cancelled earlier: rerun only with --retry-failed
    DONE = "done"  #: video already on disk: skipped


#: Dispositions that a plain `runner run` works on.
WILL_RUN: Final = frozenset({Disposition.NEW, Disposition.CHANGED, Disposition.IN_FLIGHT})


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """One spec with what the journal says about it."""

    spec: TaskSpec
    disposition: Disposition
    state: TaskState | None  #: journal state, None when the journal has no such id
    cost: float | None  #: estimated price in the endpoint's currency; None when unpriced


@dataclass(slots=True)
class CostLine:
    """Estimated cost of the tasks that will run, for one (model, resolution)."""

    model: str
    resolution: str
    tasks: int = 0
    seconds: float = 0.0  #: billed seconds: output video, plus input video where the family bills it
    cost: float = 0.0
    unpriced: int = 0  #: tasks whose price the catalogue does not know for this region


@dataclass(frozen=True, slots=True)
class ModelEstimate:
    """Wall-time estimate for one model's share of the run."""

    model: str
    tasks: int
    submit_rate: float
    concurrency: int
    generation_s: float  #: sum of typical generation times
    wall_s: float


@dataclass(slots=True)
class Plan:
    """What a run of these specs would do, cost and take."""

    endpoint: Endpoint
    tasks: list[PlannedTask]
    counts: dict[Disposition, int]
    costs: list[CostLine]
    estimates: list[ModelEstimate]
    wall_s: float
    retry_cost: float = 0.0  #: extra cost if the failed ones are retried too
    notes: list[str] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.endpoint.currency

    @property
    def total_cost(self) -> float:
        return sum(line.cost for line in self.costs)

    @property
    def to_run(self) -> int:
        return sum(self.counts[d] for d in WILL_RUN)


def build_plan(
    specs: Iterable[TaskSpec],
    records: Iterable[TaskRecord],
    endpoint: Endpoint,
    limits: Limits | None = None,
    accounts: Sequence[Limits] = (),
) -> Plan:
    """Classify `specs` against the journal `records` and estimate cost and wall time, each
    model at its quota, or at the numbers `limits` put in its place (as `runner run` does);
    with `accounts` (each one's limits), at the sum of their quotas."""
    journal = list(records)
    by_id = {record.id: record for record in journal}
    planned: list[PlannedTask] = []
    counts = dict.fromkeys(Disposition, 0)
    costs: dict[tuple[str, str], CostLine] = {}
    retry_cost = 0.0
    for spec in specs:
        record = by_id.get(spec.id)
        disposition = _classify(spec, record)
        cost = task_cost(spec, endpoint)
        planned.append(PlannedTask(spec, disposition, record.state if record else None, cost))
        counts[disposition] += 1
        if disposition in WILL_RUN:
            line = costs.setdefault((spec.model, spec.resolution), CostLine(spec.model, spec.resolution))
            line.tasks += 1
            info = get_model(spec.model)
            line.seconds += billed_seconds(spec, info) if info is not None else spec.duration
            line.cost += cost or 0.0
            line.unpriced += cost is None
        elif disposition is Disposition.FAILED:
            retry_cost += cost or 0.0
    running = [task.spec for task in planned if task.disposition in WILL_RUN]
    estimates, wall_s = _estimates(running, limits, accounts)
    plan = Plan(endpoint, planned, counts, list(costs.values()), estimates, wall_s, retry_cost)
    plan.notes += _notes(plan, endpoint)
    plan.notes += _renamed(planned, journal)
    return plan


def _renamed(planned: list[PlannedTask], journal: list[TaskRecord]) -> list[str]:
    """A note when new ids carry content the journal already finished under another id."""
    done_keys = {record.key: record.id for record in journal if record.state is TaskState.DONE}
    same = [
        (t.spec.id, done_keys[t.spec.key])
        for t in planned
        if t.disposition is Disposition.NEW and t.spec.key in done_keys
    ]
    if not same:
        return []
    new_id, old_id = same[0]
    return [
        f"{len(same)} new task(s) have the same content as tasks already done under another id "
        f"(e.g. {new_id!r} = {old_id!r}); they will be generated again unless you keep the old ids."
    ]


def _classify(spec: TaskSpec, record: TaskRecord | None) -> Disposition:
    if record is None or (record.state is TaskState.PLANNED and record.key == spec.key):
        return Disposition.NEW
    if record.key != spec.key:
        return Disposition.CHANGED
    if record.state is TaskState.DONE:
        return Disposition.DONE
    if record.state in _FAILED_STATES:
        return Disposition.FAILED
    return Disposition.IN_FLIGHT


def _estimates(
    specs: list[TaskSpec], limits: Limits | None, accounts: Sequence[Limits]
) -> tuple[list[ModelEstimate], float]:
    """Each model's wall time at its own quota (summed over `accounts`, whose lanes run side by
    side), and the run's: its models' lanes run side by side too."""
    generation: dict[str, list[float]] = {}
    for spec in specs:
        model = get_model(spec.model)
        if model is not None:
            seconds = estimate_generation_s(model, spec.resolution, spec.duration)
            generation.setdefault(model.name, []).append(seconds)
    quotas = model_quotas(generation, limits)  # as `runner run`
    if accounts:
        each = [model_quotas(generation, own) for own in accounts]
        quotas = {
            name: Quota(sum(q[name].submit_rate for q in each), sum(q[name].concurrency for q in each))
            for name in generation
        }
    estimates = []
    for name, times in generation.items():
        rate, slots = quotas[name].submit_rate, quotas[name].concurrency
        estimates.append(ModelEstimate(name, len(times), rate, slots, sum(times), _bound(times, rate, slots)))
    return estimates, max((estimate.wall_s for estimate in estimates), default=0.0)


def _bound(times: list[float], rate: float, slots: int) -> float:
    total = sum(times)
    return max(len(times) / rate, total / slots) + total / len(times)


def _notes(plan: Plan, endpoint: Endpoint) -> list[str]:
    notes = []
    for line in plan.costs:
        if line.unpriced:
            notes.append(
                f"{line.unpriced} {line.model} {line.resolution} task(s) have no known price in the "
                f"{endpoint.price_region} region; the cost shown leaves them out."
            )
    if endpoint.is_simulator:
        notes.append("Endpoint sim: nothing is billed; costs are what the Singapore region would charge.")
    return notes


def disposition_counts(plan: Plan) -> Mapping[str, int]:
    """Counts by disposition name, every disposition present (for tables and JSON)."""
    return {d.value: plan.counts[d] for d in Disposition}
