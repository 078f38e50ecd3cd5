"""The poll scheduler: one loop, a next-poll time per task, within the task-endpoint budget.

Each in-flight task is polled when it is likely to have changed, not every second:

- a task believed to be running is first polled at its start plus the 20th percentile
  of the generation times of finished tasks of the same shape (model, resolution,
  duration), then every 15 % of the median, with jitter;
- while no task of that model waits queued on the server behind the running ones (the
  server refuses surplus, or the batch is in its tail), a finished task's slot stays idle
  until we notice: running tasks are then first polled at the shortest time seen, every
  8 % of the median until the 5th percentile and every 2 % after it, which costs GETs
  (about as many as the SDK's) and buys the makespan back;
- a task queued on the server (PENDING) is polled every 40 % of the median, and when
  another task of the same model finishes, the oldest queued one is assumed to have
  taken its place at the server's end_time;
- a failed poll backs that task off (full jitter, capped); the others carry on.

Durations come from the server's scheduled/end times, converted to our monotonic clock
by a ClockMap, so the same policy serves DashScope (minutes) and a compressed simulator
(seconds). Every request goes through one Pacer (the account's 20 requests/s for the
task endpoints, kept at 15) shared with downloads' URL refreshes and reconciliation.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final, Protocol

import anyio

from runner.catalog import Endpoint, estimate_generation_s, get_model
from runner.client import DashScopeClient, ListedTask, TaskStatus
from runner.costs import actual_cost
from runner.crashpoints import crash_point
from runner.efficiency import server_seconds
from runner.errors import AccountError, ApiError, TransientApiError
from runner.estimates import ClockMap, Durations, Shape
from runner.lifecycle import Event
from runner.ratelimit import Pacer
from runner.store import Store
from runner.tasks import TaskSpec, TaskState

__all__ = ["PollListener", "Poller", "shape_of"]

FLOOR_S: Final = 0.05  #: never poll one task more often than this (local seconds) at real speed
_FLOOR_SERVER_S: Final = 0.5  #: the same floor in server seconds, for a compressed simulator
_FLOOR_MIN_LOCAL_S: Final = 0.002  #: ... but never below this (CPU)
_FIRST_QUANTILE: Final = 0.2
_RUNNING_FRACTION: Final = 0.15
_TIGHT_FIRST_QUANTILE: Final = 0.0  #: no server-side backlog: a late look idles a slot
_TIGHT_EARLY_QUANTILE: Final = 0.05  #: ... and until this quantile few tasks end
_TIGHT_EARLY_FRACTION: Final = 0.08
_TIGHT_FRACTION: Final = 0.02
_PENDING_FRACTION: Final = 0.4
_RUNNING_CAP_S: Final = 15.0  #: server seconds
_PENDING_CAP_S: Final = 30.0
_BACKOFF_BASE_S: Final = 1.0  #: server seconds
_BACKOFF_CAP_S: Final = 60.0
_MAX_OUTSTANDING: Final = 16


class PollListener(Protocol):
    """What the engine does when a poll settles a task."""

    def task_succeeded(self, task: str) -> None: ...

    def task_ended(self, task: str) -> None: ...

    def account_failed(self, error: AccountError) -> None: ...


def shape_of(spec: TaskSpec) -> Shape:
    return (spec.model, spec.resolution, spec.duration)


@dataclass(slots=True)
class _Watch:
    task: str
    shape: Shape
    order: int  # submission order, for "the oldest queued task starts next"
    sent_local: float | None  # when we sent its create (None: submitted by an earlier process)
    started_local: float | None = None  # our estimate of when it started running
    paired: bool = False  # its submit_time has fed the clock map
    watched_local: float = 0.0
    errors: int = 0
    version: int = 0


class Poller:
    """Polls every in-flight task at the right moment and journals what it learns."""

    def __init__(
        self,
        store: Store,
        client: DashScopeClient,
        pacer: Pacer,
        listener: PollListener,
        *,
        endpoint: Endpoint,
        concurrency: int,
        clock_map: ClockMap,
        seed: int | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self.pacer = pacer
        self._listener = listener
        self._endpoint = endpoint
        self._concurrency = concurrency
        self.clock_map = clock_map
        self.durations = Durations()
        self._random = random.Random(seed)
        self._watches: dict[str, _Watch] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        self._seq = itertools.count()
        self._changed = anyio.Event()
        self._limiter = anyio.Semaphore(_MAX_OUTSTANDING)
        self.polls = 0
        self.poll_errors = 0

    @property
    def clock(self) -> Any:
        return self.pacer.clock

    # -- what the engine calls ------------------------------------------------------------

    def watch(self, task: str, spec: TaskSpec, *, sent_local: float | None, fresh: bool = True) -> None:
        """Start polling `task`: just accepted (`fresh`), or adopted / found in flight at startup.

        `sent_local`: when its create was sent, on our monotonic clock (None if unknown).
        """
        now = self.clock.now()
        watch = _Watch(task, shape_of(spec), next(self._seq), sent_local, watched_local=now)
        self._watches[task] = watch
        if not fresh or sent_local is None:
            self._schedule(watch, now)  # state unknown since the last process: look now
            return
        if self._running_estimate(spec.model) < self._concurrency:
            watch.started_local = sent_local
            first = self._quantile(watch.shape, self._first_quantile(spec.model))
            self._schedule(watch, sent_local + self._local(first))
        else:
            self._schedule(watch, now + self._pending_interval(watch.shape))

    def forget(self, task: str) -> None:
        self._watches.pop(task, None)

    @property
    def watching(self) -> int:
        return len(self._watches)

    async def query(self, task_id: str) -> TaskStatus:
        """One paced GET /tasks/{id} for others (download URL refresh, reconciliation)."""
        await self.pacer.wait()
        return await self._client.query(task_id)

    async def list_tasks(self, **filters: Any) -> AsyncIterator[ListedTask]:
        """Every page of the task list, each page paced."""
        page_no = 1
        while True:
            await self.pacer.wait()
            page = await self._client.list_tasks(page_no=page_no, **filters)
            for task in page.tasks:
                yield task
            if page_no >= page.total_page or not page.tasks:
                return
            page_no += 1

    async def run(self) -> None:
        """The poll loop; runs until cancelled."""
        async with anyio.create_task_group() as group:
            while True:
                due = self._next_due()
                now = self.clock.now()
                if due is None or due > now:
                    await self._wait_for_change(None if due is None else due - now)
                    continue
                _, _, task, _ = heapq.heappop(self._heap)
                await self.pacer.wait()
                await self._limiter.acquire()
                group.start_soon(self._poll, task)

    # -- one poll ------------------------------------------------------------------------

    async def _poll(self, task: str) -> None:
        try:
            watch = self._watches.get(task)
            record = self._store.record(task)
            if watch is None or record.task_id is None:
                return
            try:
                status = await self._client.query(record.task_id)
            except AccountError as error:
                self._listener.account_failed(error)
                return
            except ApiError as error:
                self._back_off(watch, error)
                return
            self.polls += 1
            crash_point("mid_poll")
            if self._watches.get(task) is watch:
                self._apply(watch, status)
        finally:
            self._limiter.release()

    def _apply(self, watch: _Watch, status: TaskStatus) -> None:
        watch.errors = 0
        now = self.clock.now()
        submitted = server_seconds(status.submit_time)
        if watch.sent_local is not None and submitted is not None and not watch.paired:
            self.clock_map.add(watch.sent_local, submitted)
            watch.paired = True
        record = self._store.record(watch.task)
        if record.state not in (TaskState.PENDING, TaskState.RUNNING):
            self.forget(watch.task)
            return
        times = _times(status)
        if status.status == "PENDING":
            watch.started_local = None
            self._schedule(watch, now + self._pending_interval(watch.shape))
        elif status.status == "RUNNING":
            if record.state is TaskState.PENDING:
                self._store.transition(watch.task, Event.STARTED, **times)
            self._note_start(watch, status, now)
            quantile = self._quantile(watch.shape, self._first_quantile(watch.shape[0]))
            first = (watch.started_local or now) + self._local(quantile)
            running_s = (now - (watch.started_local or now)) * self.clock_map.slope
            self._schedule(watch, max(first, now + self._running_interval(watch.shape, running_s)))
        elif status.status in ("SUCCEEDED", "FAILED"):
            self._finished(watch, status, times)
        elif status.status == "CANCELED":
            self._store.transition(watch.task, Event.CANCELLED, **times)
            self._end(watch, None)
            self._listener.task_ended(watch.task)
        elif status.status == "UNKNOWN":
            message = (
                f"DashScope no longer knows task {record.task_id}: it expired (task ids live 24 h), "
                "or the server forgot it (an in-process simulator restarted)."
            )
            self._store.transition(watch.task, Event.EXPIRED, error_code="Expired", error_message=message)
            self._end(watch, None)
            self._listener.task_ended(watch.task)
        else:
            self._schedule(watch, now + self._running_interval(watch.shape))

    def _finished(self, watch: _Watch, status: TaskStatus, times: dict[str, Any]) -> None:
        started, ended = server_seconds(status.scheduled_time), server_seconds(status.end_time)
        if status.status == "SUCCEEDED":
            if started is not None and ended is not None:
                self.durations.add(watch.shape, ended - started)
            spec = self._store.spec(watch.task)
            self._store.transition(
                watch.task,
                Event.SUCCEEDED,
                video_url=status.video_url,
                usage=status.usage,
                orig_prompt=status.orig_prompt,
                actual_prompt=status.actual_prompt,
                cost=actual_cost(spec, status.usage, self._endpoint),
                **times,
            )
            self._end(watch, ended)
            self._listener.task_succeeded(watch.task)
            return
        self._store.transition(
            watch.task,
            Event.TASK_FAILED,
            error_code=status.code or "Unknown",
            error_message=status.message or "DashScope reported the task FAILED without a message.",
            **times,
        )
        self._end(watch, ended)
        self._listener.task_ended(watch.task)

    def _end(self, watch: _Watch, ended: float | None) -> None:
        """Forget a settled task; its server slot went to the oldest task queued behind it."""
        self.forget(watch.task)
        queued = [
            w for w in self._watches.values() if w.shape[0] == watch.shape[0] and w.started_local is None
        ]
        if not queued:
            return
        successor = min(queued, key=lambda w: w.order)
        now = self.clock.now()
        start = self.clock_map.to_local(ended) if ended is not None else None
        successor.started_local = min(now, start) if start is not None else now
        first = successor.started_local + self._local(self._quantile(successor.shape, _FIRST_QUANTILE))
        self._schedule(successor, max(first, now + self._floor()))

    def _note_start(self, watch: _Watch, status: TaskStatus, now: float) -> None:
        scheduled = server_seconds(status.scheduled_time)
        local = self.clock_map.to_local(scheduled) if scheduled is not None else None
        if local is not None:
            watch.started_local = min(local, now)
        elif watch.started_local is None:
            watch.started_local = now

    def _back_off(self, watch: _Watch, error: ApiError) -> None:
        self.poll_errors += 1
        watch.errors += 1
        ceiling = min(self._local(_BACKOFF_CAP_S), self._local(_BACKOFF_BASE_S) * 2**watch.errors)
        floor = self._floor()
        delay = self._random.uniform(floor, max(floor, ceiling))
        if isinstance(error, TransientApiError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        self._schedule(watch, self.clock.now() + delay)

    # -- timing ------------------------------------------------------------------------

    def _quantile(self, shape: Shape, q: float) -> float:
        """A duration quantile in server seconds (the catalogue's estimate before any data)."""
        value = self.durations.quantile(shape, q)
        if value is not None:
            return value
        model = get_model(shape[0])
        typical = estimate_generation_s(model, shape[1], shape[2]) if model else 120.0
        return typical * (0.5 if q < 0.5 else 1.0)

    def typical_duration_local(self) -> float | None:
        """The median generation time of any shape seen so far, in local seconds (for ETAs)."""
        shapes = {w.shape for w in self._watches.values()}
        values = [self.durations.quantile(shape, 0.5) for shape in shapes]
        known = [v for v in values if v is not None]
        return self._local(sum(known) / len(known)) if known else None

    def _running_interval(self, shape: Shape, running_s: float = 0.0) -> float:
        """`running_s`: server seconds the task has been running (for the tight schedule)."""
        median = self._quantile(shape, 0.5)
        if self._backlogged(shape[0]):
            fraction = _RUNNING_FRACTION
        elif running_s < self._quantile(shape, _TIGHT_EARLY_QUANTILE):
            fraction = _TIGHT_EARLY_FRACTION
        else:
            fraction = _TIGHT_FRACTION
        interval = self._local(min(_RUNNING_CAP_S, fraction * median))
        return max(self._floor(), interval * self._random.uniform(0.8, 1.2))

    def _pending_interval(self, shape: Shape) -> float:
        median = self._quantile(shape, 0.5)
        interval = self._local(min(_PENDING_CAP_S, _PENDING_FRACTION * median))
        return max(self._floor(), interval * self._random.uniform(0.8, 1.2))

    def _first_quantile(self, model: str) -> float:
        return _FIRST_QUANTILE if self._backlogged(model) else _TIGHT_FIRST_QUANTILE

    def _backlogged(self, model: str) -> bool:
        """Whether a task of `model` waits queued on the server, ready to take a freed slot."""
        return any(w.shape[0] == model and w.started_local is None for w in self._watches.values())

    def _floor(self) -> float:
        """The shortest gap between two polls of one task, in local seconds: 0.05 s at real
        speed, and as many server seconds on a compressed simulator, not fifty times more."""
        return min(FLOOR_S, max(_FLOOR_MIN_LOCAL_S, self._local(_FLOOR_SERVER_S)))

    def _local(self, server_s: float) -> float:
        return server_s / self.clock_map.slope

    def _running_estimate(self, model: str) -> int:
        return sum(1 for w in self._watches.values() if w.shape[0] == model and w.started_local is not None)

    # -- the heap ----------------------------------------------------------------------

    def _schedule(self, watch: _Watch, due: float) -> None:
        if not self.clock_map.calibrated:
            # The server's clock rate is not known yet (a simulator of unknown time scale):
            # poll at geometrically growing intervals, which suit any scale, until it is.
            now = self.clock.now()
            due = min(due, now + max(self._floor(), 0.5 * (now - watch.watched_local)))
        watch.version += 1
        heapq.heappush(self._heap, (due, next(self._seq), watch.task, watch.version))
        self._changed.set()

    def _next_due(self) -> float | None:
        while self._heap:
            due, _, task, version = self._heap[0]
            watch = self._watches.get(task)
            if watch is not None and watch.version == version:
                return due
            heapq.heappop(self._heap)
        return None

    async def _wait_for_change(self, delay: float | None) -> None:
        self._changed = anyio.Event()
        with anyio.move_on_after(delay):
            await self._changed.wait()


def _times(status: TaskStatus) -> dict[str, Any]:
    values = {
        "submit_time": status.submit_time,
        "scheduled_time": status.scheduled_time,
        "end_time": status.end_time,
    }
    return {name: value for name, value in values.items() if value is not None}
