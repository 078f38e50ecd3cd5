"""What a run counts as it goes: the progress snapshot, the final summary, retryable codes.

The scheduler fills a `RunStats`; a progress display reads `Snapshot`s (it never touches
the engine's internals); `build_summary` turns the journal plus the stats into the
RunSummary that decides the exit code. Efficiency = makespan lower bound / observed
makespan (docs/performance.md), both in server seconds; each model's tasks run
in a lane of their own quota, so the run's bound is the largest of its models' bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from runner.core import (
    TERMINAL_STATES,
    RunSummary,
    TaskRecord,
    TaskState,
    efficiency,
    makespan_lower_bound,
    server_seconds,
)
from runner.journal import Store
from runner.planning import Quota

__all__ = ["RETRYABLE_CODES", "RunStats", "Snapshot", "build_summary", "is_retryable"]

#: task failures worth another attempt (a code or any of its sub-codes); content and
#: parameter rejections (DataInspectionFailed, IPInfringementSuspect, InvalidParameter*) are not
RETRYABLE_CODES: Final = (
    "InternalError",
    "SystemError",
    "ModelServiceFailed",
    "ModelServingError",
    "ModelUnavailable",
    "RequestTimeOut",
    "InvalidURL.Timeout",
    "BadRequest.InputDownloadFailed",
)
_INSPECTION: Final = "InvalidParameter.DataInspection"
_BILLED: Final = frozenset({TaskState.SUCCEEDED, TaskState.DOWNLOADING, TaskState.DONE})


def is_retryable(code: str | None, message: str | None = None) -> bool:
    """Whether a task that failed with `code` (and `message`) may succeed if submitted again.

    InvalidParameter.DataInspection is a content-check refusal, except when the service timed
    out downloading an input (the documentation blames slow cross-border downloads): that one
    is worth a few more attempts."""
    if not code:
        return False
    if code == _INSPECTION and "timed out" in (message or "").lower():
        return True
    return any(code == prefix or code.startswith(prefix + ".") for prefix in RETRYABLE_CODES)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state of a run at one instant, for progress displays."""

    counts: Mapping[TaskState, int]
    total: int
    done_this_run: int
    cost: float
    currency: str
    submit_rate: float  #: submissions per second allowed now (server seconds)
    submitted: int  #: accepted submissions in this run
    slots_used: int
    slots_capacity: int
    polls: int
    elapsed_s: float
    eta_s: float | None
    stopping: str | None  #: why the run is stopping, if it is


@dataclass(slots=True)
class RunStats:
    """Counters the engine keeps while it runs."""

    submitted: int = 0
    throttled: int = 0  #: submissions refused with 429
    reconciled: int = 0
    resubmitted_after_ambiguity: int = 0
    possible_double_charges: int = 0  #: ambiguous creates the evidence could not settle, sent again
    retried: int = 0
    skipped: int = 0  #: done before this run started
    done: int = 0  #: videos fetched by this run
    first_submit_local: float | None = None
    last_settled_local: float | None = None
    #: server run times of this run's tasks, by model
    durations: dict[str, list[float]] = field(default_factory=dict)
    _this_run: set[str] = field(default_factory=set)
    _cost_base: float = 0.0  #: what the journal's succeeded tasks cost when the run began
    _cost_added: float = 0.0

    def note_submit(self, task: str, now: float) -> None:
        if self.first_submit_local is None:
            self.first_submit_local = now
        self._this_run.add(task)

    def note_finished(self, task: str, record: TaskRecord, now: float, *, model: str) -> None:
        """A task reached a terminal server state (its cost counts from now if it succeeded)."""
        self.last_settled_local = now
        if record.state is TaskState.SUCCEEDED and record.cost:
            self._cost_added += record.cost
        if task not in self._this_run:
            return
        start, end = server_seconds(record.scheduled_time), server_seconds(record.end_time)
        if start is not None and end is not None and end >= start:
            self.durations.setdefault(model, []).append(end - start)

    def note_done(self, now: float) -> None:
        self.done += 1
        self.last_settled_local = now

    def count_cost_from(self, store: Store) -> None:
        """Take what the journal's succeeded tasks cost, before this run settles any task (each
        one it settles is added as it succeeds, so it must not be in the base too)."""
        self._cost_base = store.cost_of(_BILLED)

    @property
    def cost_this_run(self) -> float:
        """What the tasks this run saw succeed cost."""
        return self._cost_added

    def cost_so_far(self) -> float:
        """Actual cost of every succeeded task of the run folder (journal at start + this run)."""
        return self._cost_base + self._cost_added


def build_summary(
    store: Store,
    stats: RunStats,
    *,
    currency: str,
    wall_time_s: float,
    stopped_reason: str | None,
    quota_of: Callable[[str], Quota],
    slope: float,
) -> RunSummary:
    """The run's outcome from the journal (the truth) and this run's counters."""
    counts = store.counts()
    total = sum(counts.values())
    settled = sum(counts.get(state, 0) for state in TERMINAL_STATES)
    summary = RunSummary(
        total=total,
        done=counts.get(TaskState.DONE, 0),
        failed=counts.get(TaskState.FAILED, 0),
        expired=counts.get(TaskState.EXPIRED, 0),
        cancelled=counts.get(TaskState.CANCELLED, 0),
        skipped=stats.skipped,
        unfinished=total - settled,
        failed_by_code=store.failure_codes(),
        cost=round(store.cost_of(_BILLED), 6),
        cost_this_run=round(stats.cost_this_run, 6),
        currency=currency,
        wall_time_s=wall_time_s,
        stopped_reason=stopped_reason,
        reconciled=stats.reconciled,
        resubmitted_after_ambiguity=stats.resubmitted_after_ambiguity,
        possible_double_charges=store.double_charges(),
    )
    first, last = stats.first_submit_local, stats.last_settled_local
    finished = stopped_reason is None and not summary.unfinished  # a part-run has no makespan
    if finished and stats.durations and first is not None and last is not None:
        bound = max(
            makespan_lower_bound(times, quota_of(model).concurrency, quota_of(model).submit_rate)
            for model, times in stats.durations.items()
        )
        summary.efficiency = efficiency(bound, (last - first) * slope)
    return summary
