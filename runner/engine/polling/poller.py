"""The poll scheduler: one loop, a next-poll time per task, within the task-endpoint budget.

Each in-flight task is polled when it is likely to have changed, not every second; when
that is comes from runner.engine.polling.timing. When a task of a model finishes, the oldest task of
that model queued on the server (PENDING) is assumed to have taken its slot at the
server's end_time. A failed poll backs that task off (full jitter, capped); the others
carry on. Every request goes through one Pacer (the account's 20 requests/s for the task
endpoints, kept at 15) shared with downloads' URL refreshes and reconciliation.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import anyio

from runner.api import DashScopeClient, ListedTask, TaskStatus
from runner.core import (
    AccountError,
    ApiError,
    Endpoint,
    Event,
    ListRefusedError,
    TaskRecord,
    TaskSpec,
    TaskState,
    TransientApiError,
    server_seconds,
)
from runner.engine.crashpoints import crash_point
from runner.engine.polling.ends import TASK_ENDS, journal_end, server_times
from runner.engine.polling.estimates import ClockMap, Durations, Shape
from runner.engine.polling.sweeps import SWEEP_MIN_RUNNING, list_statuses
from runner.engine.polling.timing import PollTiming
from runner.engine.ratelimit import Pacer
from runner.engine.trace import NO_TRACE, Trace
from runner.journal import Store

__all__ = ["PollListener", "Poller", "shape_of"]

log = logging.getLogger(__name__)

_BACKOFF_BASE_S: Final = 1.0  #: server seconds
_BACKOFF_CAP_S: Final = 60.0
_MAX_OUTSTANDING: Final = 16
_ENDED: Final = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})  #: listed statuses that free a place


class PollListener(Protocol):
    """What the engine does when a poll settles a task."""

    def task_left_server(self, task: str) -> None:
        """A list call saw the task end: its place on the server is free before its own
        query has said how it ended (may be called again for the same task)."""

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
    confirm: bool = False  # its next look must be its own GET (a sweep saw it change)


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
        concurrency: Callable[[str], int],  # a model's concurrency quota
        clock_map: ClockMap,
        seed: int | None = None,
        trace: Trace = NO_TRACE,
    ) -> None:
        self._store = store
        self._trace = trace
        self._client = client
        self.pacer = pacer
        self._listener = listener
        self._endpoint = endpoint
        self._concurrency = concurrency
        self.clock_map = clock_map
        self.durations = Durations()
        self.timing = PollTiming(clock_map, self.durations, random.Random(seed))
        self._watches: dict[str, _Watch] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        self._seq = itertools.count()
        self._changed = anyio.Event()
        self._limiter = anyio.Semaphore(_MAX_OUTSTANDING)
        self.polls = 0
        self.sweeps = 0
        self.list_refused = False  #: the key may not list tasks: every look is a task's own GET
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
        if self._running_estimate(spec.model) < self._concurrency(spec.model):
            watch.started_local = sent_local
            first = self.timing.first_look(watch.shape, backlogged=self._backlogged(spec.model))
            self._schedule(watch, sent_local + first)
        else:
            self._schedule(watch, now + self.timing.pending_interval(watch.shape))

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
                model = self._sweepable(task)
                if model is None:
                    group.start_soon(self._poll, task)
                else:
                    group.start_soon(self._sweep, model)

    # -- one poll ------------------------------------------------------------------------

    async def _poll(self, task: str) -> None:
        try:
            watch = self._watches.get(task)
            record = self._store.record(task)
            if watch is None or record.task_id is None:
                return
            self._trace.mark(task, "get")
            try:
                status = await self._client.query(record.task_id)
            except AccountError as error:
                self._listener.account_failed(error)
                return
            except ApiError as error:
                self._back_off(watch, error)
                return
            self._trace.mark(task, "got", status=status.status)
            self.polls += 1
            crash_point("mid_poll")
            if self._watches.get(task) is watch:
                self._apply(watch, status)
        finally:
            self._limiter.release()

    # -- one sweep: a list call for every running task of a model -----------------------------

    def _sweepable(self, task: str) -> str | None:
        """The model whose running tasks one list call should look at in place of this task's
        GET: it is polled tightly (no backlog) and two or more of them run."""
        watch = self._watches.get(task)
        if watch is None or watch.confirm or watch.started_local is None or self.list_refused:
            return None
        model = watch.shape[0]
        if self._backlogged(model) or self._running_estimate(model) < SWEEP_MIN_RUNNING:
            return None
        return model

    async def _sweep(self, model: str) -> None:
        try:
            running = [
                w for w in self._watches.values() if w.shape[0] == model and w.started_local is not None
            ]
            records = {w.task: self._store.record(w.task) for w in running}
            ids = {r.task_id: task for task, r in records.items() if r.task_id is not None}
            since = [server_seconds(r.submit_time) for r in records.values()]
            starts = [s for s in since if s is not None]
            if len(ids) < len(running) or len(starts) < len(running):
                self._confirm(running)  # not every one has been seen on the server yet
                return
            self._trace.mark("*", "list", tasks=len(ids))
            try:
                seen = await list_statuses(self._client, self.pacer, model, min(starts), ids)
            except ListRefusedError as error:
                self._list_refused(error)
                self._confirm(running)
                return
            except AccountError as error:
                self._listener.account_failed(error)
                return
            except ApiError as error:
                for watch in running:
                    watch.confirm = True
                    self._back_off(watch, error)
                return
            self.sweeps += 1
            self._after_sweep(running, records, seen)
        finally:
            self._limiter.release()

    def _list_refused(self, error: ListRefusedError) -> None:
        if not self.list_refused:
            log.warning("%s. Each task is looked at with its own query from now on.", error)
        self.list_refused = True

    def _after_sweep(
        self, running: list[_Watch], records: dict[str, TaskRecord], seen: dict[str, str]
    ) -> None:
        """Still running (and journalled as such): look again later; anything else (ended,
        queued, not listed): its own GET now says what happened."""
        now = self.clock.now()
        changed = []
        for watch in running:
            record = records[watch.task]
            if self._watches.get(watch.task) is not watch:
                continue
            listed = seen.get(record.task_id or "")
            if listed == "RUNNING" and record.state is TaskState.RUNNING:
                running_s = (now - (watch.started_local or now)) * self.clock_map.slope
                interval = self.timing.running_interval(watch.shape, running_s, backlogged=False)
                self._schedule(watch, now + interval)
                continue
            changed.append(watch)
            if listed in _ENDED:
                self._trace.mark(watch.task, "seen_end", via="list")
                self._listener.task_left_server(watch.task)  # the next submission need not wait
        self._confirm(changed)

    def _confirm(self, watches: list[_Watch]) -> None:
        now = self.clock.now()
        for watch in watches:
            watch.confirm = True
            self._schedule(watch, now)

    # -- applying what a GET said ------------------------------------------------------------

    def _apply(self, watch: _Watch, status: TaskStatus) -> None:
        watch.errors = 0
        watch.confirm = False
        now = self.clock.now()
        submitted = server_seconds(status.submit_time)
        if watch.sent_local is not None and submitted is not None and not watch.paired:
            self.clock_map.add(watch.sent_local, submitted)
            watch.paired = True
        record = self._store.record(watch.task)
        if record.state not in (TaskState.PENDING, TaskState.RUNNING):
            self.forget(watch.task)
            return
        if status.status == "PENDING":
            watch.started_local = None
            self._schedule(watch, now + self.timing.pending_interval(watch.shape))
        elif status.status == "RUNNING":
            if record.state is TaskState.PENDING:
                self._store.transition(watch.task, Event.STARTED, **server_times(status))
            self._note_start(watch, status, now)
            backlogged = self._backlogged(watch.shape[0])
            first = (watch.started_local or now) + self.timing.first_look(watch.shape, backlogged=backlogged)
            running_s = (now - (watch.started_local or now)) * self.clock_map.slope
            interval = self.timing.running_interval(watch.shape, running_s, backlogged=backlogged)
            self._schedule(watch, max(first, now + interval))
        elif status.status in TASK_ENDS:
            self._ended(watch, status)
        else:
            interval = self.timing.running_interval(watch.shape, backlogged=self._backlogged(watch.shape[0]))
            self._schedule(watch, now + interval)

    def _ended(self, watch: _Watch, status: TaskStatus) -> None:
        """Journal the task's end, hand its server slot on, then tell the engine."""
        started, ended = server_seconds(status.scheduled_time), server_seconds(status.end_time)
        succeeded = status.status == "SUCCEEDED"
        self._trace.mark(watch.task, "seen_end", via="get")
        self._trace.mark(watch.task, "ended", status=status.status, **server_times(status))
        if succeeded and started is not None and ended is not None:
            self.durations.add(watch.shape, ended - started)
        journal_end(self._store, watch.task, status, self._endpoint)
        self._end(watch, ended if status.status in ("SUCCEEDED", "FAILED") else None)
        if succeeded:
            self._listener.task_succeeded(watch.task)
        else:
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
        first = successor.started_local + self.timing.successor_first_look(successor.shape)
        self._schedule(successor, max(first, now + self.timing.floor()))

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
        delay = self.timing.backoff(watch.errors, _BACKOFF_BASE_S, _BACKOFF_CAP_S)
        if isinstance(error, TransientApiError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        self._schedule(watch, self.clock.now() + delay)

    # -- timing ------------------------------------------------------------------------

    def typical_duration_local(self) -> float | None:
        """The median generation time of any shape in flight, in local seconds (for ETAs)."""
        return self.timing.typical_local({w.shape for w in self._watches.values()})

    def _backlogged(self, model: str) -> bool:
        """Whether a task of `model` waits queued on the server, ready to take a freed slot."""
        return any(w.shape[0] == model and w.started_local is None for w in self._watches.values())

    def _running_estimate(self, model: str) -> int:
        return sum(1 for w in self._watches.values() if w.shape[0] == model and w.started_local is not None)

    # -- the heap ----------------------------------------------------------------------

    def _schedule(self, watch: _Watch, due: float) -> None:
        since = watch.sent_local if watch.sent_local is not None else watch.watched_local
        due = self.timing.cap(watch.shape, due, now=self.clock.now(), since=since)
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
