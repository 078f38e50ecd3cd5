"""Tasks and their lifecycle, computed lazily from the clock.

Nothing runs in the background. On every request the board first `advance`s to the
current simulated time: per model, queued tasks are admitted in submission order to the
first instant a running slot is free (never more running than the model's concurrency),
and that admission fixes the task's scheduled and end times. A task's status at any
instant then follows from those times alone.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from runner.simulator.config import TimingConfig
from runner.simulator.draws import TaskDraw, failure_message
from runner.simulator.models import ModelSpec
from runner.simulator.validation import CreateRequest

__all__ = ["Lane", "Task", "TaskBoard"]

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED")
_QUICK_FAILURE_S = 2.0  # task-time validation failures show up almost at once


@dataclass
class Task:
    """One accepted submission and the times that fix its lifecycle."""

    index: int
    task_id: str
    request_id: str
    request: CreateRequest
    body_sha256: str
    submit: float
    draw: TaskDraw
    scheduled: float | None = None
    end: float | None = None
    canceled_at: float | None = None
    reply_lost: bool = False
    failure: tuple[str, str] | None = field(default=None)

    @property
    def spec(self) -> ModelSpec:
        """The model this task runs on."""
        return self.request.spec

    def status(self, now: float, ttl: float, expiry_from: str) -> str:
        """The task status at simulated time `now`, UNKNOWN once it has expired."""
        anchor = self.submit if expiry_from == "submit" else self.finished_at()
        if anchor is not None and now >= anchor + ttl:
            return "UNKNOWN"
        return self.live_status(now)

    def live_status(self, now: float) -> str:
        """The status ignoring expiry."""
        if self.canceled_at is not None:
            return "CANCELED"
        if self.scheduled is None or now < self.scheduled:
            return "PENDING"
        assert self.end is not None
        if now < self.end:
            return "RUNNING"
        return "FAILED" if self.failure else "SUCCEEDED"

    def finished_at(self) -> float | None:
        """When the task reached a terminal state (cancel time for a canceled task)."""
        return self.canceled_at if self.canceled_at is not None else self.end

    def plan_run(self, timing: TimingConfig) -> float:
        """Decide the outcome at admission; return how long the task occupies its slot.

        A task that outruns `max_run_s` times out when it is reached; a timeout that is injected
        (`[sim-fail:InternalError.Timeout]`, a fault rate) fires after `injected_timeout_s`, so
        rehearsing one costs seconds, not the hours of the service's limit."""
        request, draw = self.request, self.draw
        seconds = request.forced_seconds or draw.generation_seconds
        code = request.forced_failure or draw.failure_code
        if request.deferred is not None:
            self.failure = (request.deferred.code, request.deferred.message)
            return min(seconds, _QUICK_FAILURE_S)
        if code == "InternalError.Timeout" or seconds > timing.max_run_s:
            self.failure = ("InternalError.Timeout", failure_message("InternalError.Timeout"))
            if seconds > timing.max_run_s:
                return timing.max_run_s
            return min(timing.injected_timeout_s, timing.max_run_s)
        if code is not None:
            self.failure = (code, failure_message(code))
            return seconds * draw.failure_fraction
        return seconds


@dataclass
class Lane:
    """One model's FIFO queue and its running slots."""

    concurrency: int
    queue: deque[Task] = field(default_factory=deque)
    running: list[Task] = field(default_factory=list)
    last_start: float = 0.0
    peak: int = 0

    def active(self, now: float) -> int:
        """Tasks holding or waiting for a slot at `now` (queued or not yet finished)."""
        busy = sum(1 for t in self.running if t.end is not None and t.end > now)
        return busy + sum(1 for t in self.queue if t.canceled_at is None)

    def advance(self, now: float, timing: TimingConfig) -> None:
        """Admit queued tasks, in order, whose slot frees up at or before `now`."""
        while self.queue:
            head = self.queue[0]
            if head.canceled_at is not None:
                self.queue.popleft()
                continue
            start = self._slot_time(max(head.submit + head.draw.dispatch_delay, self.last_start))
            if start > now:
                return
            self.queue.popleft()
            self.running = [t for t in self.running if t.end is not None and t.end > start]
            head.scheduled = start
            head.end = start + head.plan_run(timing)
            self.running.append(head)
            self.last_start = start
            self.peak = max(self.peak, len(self.running))

    def _slot_time(self, ready: float) -> float:
        """The first instant at or after `ready` when fewer than `concurrency` tasks run."""
        ends = sorted(t.end for t in self.running if t.end is not None and t.end > ready)
        if len(ends) < self.concurrency:
            return ready
        return ends[len(ends) - self.concurrency]


class TaskBoard:
    """All tasks, by id and by model lane."""

    def __init__(self, models: dict[str, ModelSpec], timing: TimingConfig) -> None:
        self._models = models
        self._timing = timing
        self.tasks: dict[str, Task] = {}
        self.lanes: dict[str, Lane] = {}

    def lane(self, model: str) -> Lane:
        """The lane of `model`, created on first use."""
        if model not in self.lanes:
            self.lanes[model] = Lane(concurrency=self._models[model].concurrency)
        return self.lanes[model]

    def advance(self, now: float) -> None:
        """Bring every lane up to `now`."""
        for lane in self.lanes.values():
            lane.advance(now, self._timing)

    def add(self, task: Task) -> None:
        """Queue an accepted task (the caller has already checked the quotas)."""
        self.tasks[task.task_id] = task
        self.lane(task.spec.name).queue.append(task)

    def cancel(self, task: Task, now: float) -> bool:
        """Cancel a task that is still PENDING at `now`; False if it has been scheduled."""
        self.advance(now)
        if task.canceled_at is not None or task.scheduled is not None:
            return False
        task.canceled_at = now
        return True

    def peaks(self) -> dict[str, int]:
        """The largest number of tasks ever running at once, per model."""
        return {model: lane.peak for model, lane in sorted(self.lanes.items())}
