"""The poll scheduler: one loop, a next-poll time per task, within the task-endpoint budget.

Each in-flight task is looked at when it is likely to have changed (runner.engine.polling.timing);
with two or more tasks of a model in flight and none queued behind them, one list call looks
at all of them (sweeps). When a task of a model finishes, the oldest task of that model queued
on the server (if any) is assumed to have taken its slot at the server's end_time. A failed
poll backs that task off (full jitter, capped); the others carry on. Every request goes
through one Pacer (the account allows 20 requests/s for the task endpoints; the run keeps
under 5 so the account's other clients keep theirs) shared with downloads' URL refreshes and
reconciliation.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, Protocol

import anyio

from runner.api import DashScopeClient, ListedTask, TaskStatus
from runner.core import (
    AccountError,
    ApiError,
    Endpoint,
    Event,
    ListRefusedError,
    TaskSpec,
    TaskState,
    TransientApiError,
    server_seconds,
)
from runner.engine.crashpoints import crash_point
from runner.engine.polling.ends import TASK_ENDS, journal_end, server_times
from runner.engine.polling.estimates import ClockMap, Durations, Shape
from runner.engine.polling.sweeps import SWEEP_MIN_RUNNING, list_statuses, plan_sweep
from runner.engine.polling.timing import PollTiming
from runner.engine.polling.watches import Watch, Watches
from runner.engine.ratelimit import Pacer
from runner.engine.trace import NO_TRACE, Trace
from runner.journal import Store

__all__ = ["PollListener", "Poller", "shape_of"]

log = logging.getLogger(__name__)

_BACKOFF_BASE_S: Final = 1.0  #: server seconds
_BACKOFF_CAP_S: Final = 60.0
_MAX_OUTSTANDING: Final = 16
_ENDED: Final = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})  #: listed statuses that free a place
#: how the list shows a task in the state the journal has for it (nothing new to journal)
_LISTED_AS: Final = {TaskState.PENDING: "PENDING", TaskState.RUNNING: "RUNNING"}


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
        self.clock_map = clock_map
        self.durations = Durations()
        self.timing = PollTiming(clock_map, self.durations, random.Random(seed))
        self._watches = Watches(concurrency)
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
        watch = Watch(task, shape_of(spec), next(self._seq), sent_local, watched_local=now)
        room = self._watches.has_room(spec.model)
        self._watches.add(watch)
        if not fresh or sent_local is None:
            self._schedule(watch, now)  # state unknown since the last process: look now
            return
        if room:
            watch.started_local = sent_local
            first = self.timing.first_look(watch.shape, backlogged=self._watches.backlogged(spec.model))
            self._schedule(watch, sent_local + first)
        else:
            self._schedule(watch, now + self.timing.pending_interval(watch.shape))

    def forget(self, task: str) -> None:
        self._watches.pop(task)

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
        """The model whose tasks in flight one list call should look at in place of this task's
        GET: they are looked at tightly (no backlog) and two or more of them are in flight."""
        watch = self._watches.get(task)
        if watch is None or watch.confirm or watch.left or self.list_refused:
            return None
        model = watch.model
        if self._watches.backlogged(model) or len(self._members(model)) < SWEEP_MIN_RUNNING:
            return None
        return model

    def _members(self, model: str) -> list[Watch]:
        """What a sweep of `model` looks at: its tasks in flight but those due for their own GET."""
        return [w for w in self._watches.in_flight(model) if not w.confirm]

    async def _sweep(self, model: str) -> None:
        try:
            candidates = self._members(model)
            records = {w.task: self._store.record(w.task) for w in candidates}
            members, unknown, since = plan_sweep(candidates, records, self.clock_map)
            self._confirm(unknown)
            if not members:
                return
            ids = {w.task: records[w.task].task_id or "" for w in members}
            self._trace.mark("*", "list", tasks=len(ids))
            try:
                seen = await list_statuses(self._client, self.pacer, model, since, set(ids.values()))
            except ListRefusedError as error:
                self._list_refused(error)
                self._confirm(members)
                return
            except AccountError as error:
                self._listener.account_failed(error)
                return
            except ApiError as error:
                for watch in members:
                    watch.confirm = True
                    self._back_off(watch, error)
                return
            self.sweeps += 1
            self._after_sweep(members, ids, seen)
        finally:
            self._limiter.release()

    def _list_refused(self, error: ListRefusedError) -> None:
        if not self.list_refused:
            log.warning("%s. Each task is looked at with its own query from now on.", error)
        self.list_refused = True

    def _after_sweep(self, members: list[Watch], ids: dict[str, str], seen: dict[str, str]) -> None:
        """Listed as journalled (running, or PENDING while a free slot dispatches it) or newly
        running: look again later, all together (one jitter, so the next list call is not the
        earliest of many draws); anything else (ended, not listed): its own GET now says what
        happened."""
        now, jitter = self.clock.now(), self.timing.jitter()
        changed = []
        for watch in members:
            if self._watches.get(watch.task) is not watch:
                continue
            record = self._store.record(watch.task)  # a GET may have moved it during the list call
            listed = seen.get(ids[watch.task])
            if listed == "RUNNING" and record.state is TaskState.PENDING:
                self._started_by_list(watch, now)
            elif listed is None or listed != _LISTED_AS.get(record.state):
                changed.append(watch)
                if listed in _ENDED:
                    self._left(watch)
                continue
            running_s = (now - (watch.started_local or now)) * self.clock_map.slope
            interval = self.timing.running_interval(watch.shape, running_s, backlogged=False, jitter=jitter)
            self._schedule(watch, now + interval)
        self._confirm(changed)

    def _started_by_list(self, watch: Watch, now: float) -> None:
        """The list shows the task running: journal it so; its own GET at its end brings the
        server's times (a GET now would cost a request a task for nothing the run needs)."""
        self._store.transition(watch.task, Event.STARTED, detail={"seen": "list"})
        if watch.started_local is None:
            watch.started_local = now

    def _left(self, watch: Watch) -> None:
        """A list call saw the task end: its place is free before its own GET says how it ended."""
        self._trace.mark(watch.task, "seen_end", via="list")
        self._hand_on(watch, self.clock_map.to_server(self.clock.now()))
        watch.left = True
        self._listener.task_left_server(watch.task)  # the next submission need not wait

    def _confirm(self, watches: list[Watch]) -> None:
        now = self.clock.now()
        for watch in watches:
            watch.confirm = True
            self._schedule(watch, now)

    # -- applying what a GET said ------------------------------------------------------------

    def _apply(self, watch: Watch, status: TaskStatus) -> None:
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
        backlogged = self._watches.backlogged(watch.model)
        if status.status == "PENDING":
            watch.started_local = None
            self._schedule(watch, now + self.timing.pending_interval(watch.shape))
        elif status.status == "RUNNING":
            if record.state is TaskState.PENDING:
                self._store.transition(watch.task, Event.STARTED, **server_times(status))
            self._note_start(watch, status, now)
            first = (watch.started_local or now) + self.timing.first_look(watch.shape, backlogged=backlogged)
            running_s = (now - (watch.started_local or now)) * self.clock_map.slope
            interval = self.timing.running_interval(watch.shape, running_s, backlogged=backlogged)
            self._schedule(watch, max(first, now + interval))
        elif status.status in TASK_ENDS:
            self._ended(watch, status)
        else:
            self._schedule(watch, now + self.timing.running_interval(watch.shape, backlogged=backlogged))

    def _ended(self, watch: Watch, status: TaskStatus) -> None:
        """Journal the task's end, hand its server slot on, then tell the engine."""
        started, ended = server_seconds(status.scheduled_time), server_seconds(status.end_time)
        succeeded = status.status == "SUCCEEDED"
        self._trace.mark(watch.task, "seen_end", via="get")
        self._trace.mark(watch.task, "ended", status=status.status, **server_times(status))
        if succeeded and started is not None and ended is not None:
            self.durations.add(watch.shape, ended - started)
        journal_end(self._store, watch.task, status, self._endpoint)
        if not watch.left:
            self._hand_on(watch, ended if status.status in ("SUCCEEDED", "FAILED") else None)
        self.forget(watch.task)
        if succeeded:
            self._listener.task_succeeded(watch.task)
        else:
            self._listener.task_ended(watch.task)

    def _hand_on(self, watch: Watch, ended: float | None) -> None:
        """The task's server slot goes to the oldest task queued behind it, if one is (at server
        time `ended`, if known): its looks start from then."""
        successor = self._watches.successor(watch)
        if successor is None:
            return
        now = self.clock.now()
        start = self.clock_map.to_local(ended) if ended is not None else None
        successor.started_local = min(now, start) if start is not None else now
        first = successor.started_local + self.timing.successor_first_look(successor.shape)
        self._schedule(successor, max(first, now + self.timing.floor()))

    def _note_start(self, watch: Watch, status: TaskStatus, now: float) -> None:
        scheduled = server_seconds(status.scheduled_time)
        local = self.clock_map.to_local(scheduled) if scheduled is not None else None
        if local is not None:
            watch.started_local = min(local, now)
        elif watch.started_local is None:
            watch.started_local = now

    def _back_off(self, watch: Watch, error: ApiError) -> None:
        self.poll_errors += 1
        watch.errors += 1
        delay = self.timing.backoff(watch.errors, _BACKOFF_BASE_S, _BACKOFF_CAP_S)
        if isinstance(error, TransientApiError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        self._schedule(watch, self.clock.now() + delay)

    # -- timing ------------------------------------------------------------------------

    def typical_duration_local(self) -> float | None:
        """The median generation time of any shape in flight, in local seconds (for ETAs)."""
        return self.timing.typical_local({w.shape for w in self._watches})

    # -- the heap ----------------------------------------------------------------------

    def _schedule(self, watch: Watch, due: float) -> None:
        due = self.timing.cap(watch.shape, due, now=self.clock.now(), since=watch.since)
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
