"""One account's share of a run: its lanes, its poller, its downloads, its reconciliation.

DashScope's quotas are per account and per model, so each account the run drives keeps its
own budgets (runner.engine.lanes: a pacer and slots per model, at that account's quotas), its
own task-endpoint budget (its poller), its own uploads (only the key that uploaded a file can
use it) and reconciles its own uncertain creates by listing its own tasks. What waits to be
sent is shared: each model's queue belongs to the run, and every account's lane of that model
takes from it when a slot of its own frees, so the account that frees first sends next.

A task's account is journalled with its submit intent; from then on only that account's
client polls, downloads, reconciles or cancels it. An account the service refuses (invalid
key, arrears, no access) is dropped: it sends nothing more, its unsubmitted tasks stay in the
shared queues for the others, and what it had already sent stays journalled under its name
for a later run with a working key (sending it again elsewhere could pay twice).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import anyio
from anyio.abc import TaskGroup

from runner.api import DashScopeClient
from runner.core import (
    AccountError,
    DownloadError,
    Endpoint,
    TaskRecord,
    TaskSpec,
    TaskState,
    TransientApiError,
)
from runner.engine.config import EngineConfig
from runner.engine.downloads import Downloader
from runner.engine.lanes import Lane, Lanes
from runner.engine.polling.estimates import ClockMap
from runner.engine.polling.poller import Poller
from runner.engine.ratelimit import Clock, Pacer
from runner.engine.reconciliation.passes import Reconciler
from runner.engine.runstats import RunStats
from runner.engine.submission import (
    Outcome,
    Reachability,
    SubmitBackoff,
    SubmitQueue,
    SubmitResult,
    submit_task,
)
from runner.engine.trace import Trace
from runner.engine.uploads import AssetUploader
from runner.journal import Store

__all__ = ["AccountLink", "AccountWorker", "RunDesk"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AccountLink:
    """An account the run drives: a client holding its key, its endpoint, its limits."""

    client: DashScopeClient
    endpoint: Endpoint
    name: str = ""  #: its name in `accounts:`; "" for a run's only, unnamed account
    config: EngineConfig | None = None  #: its quotas and knobs (None: the run's)


class RunDesk(Protocol):
    """What an account asks of the run it belongs to (runner.engine.engine.Engine)."""

    stats: RunStats
    trace: Trace

    @property
    def stopping(self) -> str | None: ...

    def over_budget(self, spec: TaskSpec, endpoint: Endpoint) -> bool: ...

    def retry(self, task: str) -> bool: ...

    def stop(self, reason: str, *, now: bool) -> None: ...

    def notify(self) -> None: ...

    def wake(self) -> None: ...

    def check_finished(self) -> None: ...

    async def wait_for_change(self, delay: float | None) -> None: ...

    def disk_full(self, error: DownloadError) -> None: ...

    def account_dropped(self, worker: AccountWorker, error: AccountError) -> None: ...


class AccountWorker:
    """Sends, watches and fetches one account's tasks, within that account's budgets."""

    def __init__(
        self,
        link: AccountLink,
        desk: RunDesk,
        store: Store,
        run_dir: Path,
        queues: Mapping[str, SubmitQueue],
        *,
        models: Mapping[str, str],  #: every journalled task's model (read once for all accounts)
        run_config: EngineConfig,
        clock: Clock,
        seed: int | None = None,
    ) -> None:
        self.name = link.name
        self.account = link.name or None  #: as journalled in each task it sends
        self.endpoint = link.endpoint
        config = self.config = link.config or run_config
        self._desk = desk
        self._store = store
        self._client = link.client
        self._clock = clock
        scale = config.time_scale
        self._backoff = SubmitBackoff(time_scale=scale, seed=seed)
        uploads = replace(config.uploads, time_scale=scale)
        self.uploader = AssetUploader(store, link.client, uploads, clock=clock, account=link.name)
        self.lanes = Lanes(models, config, clock, link.endpoint, queues)
        self.poller = Poller(
            store,
            link.client,
            Pacer(config.poll_rate / scale, clock=clock),
            self,
            endpoint=link.endpoint,
            concurrency=lambda model: config.quota(model).concurrency,
            clock_map=ClockMap(1.0 / scale, fit_slope=config.learn_clock),
            seed=seed,
            trace=desk.trace,
        )
        self.downloader = Downloader(
            store,
            link.client,
            self.poller,
            run_dir,
            self,
            transfers=config.download_transfers,
            retry_delay=0.2,
            offload=config.offload,
            max_video_mb=config.max_video_mb,
        )
        self.reconciler = Reconciler(
            store,
            self.poller,
            desk.stats,
            self,
            time_scale=scale,
            wait_s=config.reconcile_wait_s,
            account=self.account,
        )
        self._reachability = Reachability(config.unreachable_give_up_s, base_url=link.endpoint.base_url)
        self.error: AccountError | None = None  #: why the account was dropped, if it was
        self._scope = anyio.CancelScope()
        self._group: TaskGroup | None = None
        self._pacing = 0  #: tasks taken from the queue, waiting for their submit turn

    # -- what the run asks -------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether it holds work: tasks in flight, creates being sent or waiting for their turn
        (out of the queue, so counted here), videos to fetch."""
        lanes = self.lanes
        return bool(lanes.unsettled or lanes.posting or self._pacing or self.downloader.queued)

    @property
    def reserved(self) -> float:
        return self.lanes.reserved

    def take_over(self, record: TaskRecord, sent_local: float | None) -> None:
        """At startup: hold a slot for a task this account sent that is still in flight."""
        spec = self._store.spec(record.id)
        self.lanes.of(record.id).slots.hold(record.id, spec)
        if record.state is not TaskState.AMBIGUOUS:
            self.poller.watch(record.id, spec, sent_local=sent_local, fresh=False)

    async def run(self) -> None:
        """Poll, download, reconcile and submit until the run cancels it or the account is dropped."""
        with self._scope:
            async with anyio.create_task_group() as group:
                self._group = group
                group.start_soon(self.poller.run)
                group.start_soon(self.downloader.run)
                await self.reconciler.claim_orphans(self.lanes)
                await self.reconciler.run_pass(group)
                for lane in self.lanes:
                    group.start_soon(self._submit_loop, lane)
                self._desk.check_finished()

    # -- submitting ----------------------------------------------------------------------

    def _sending(self) -> bool:
        return self._desk.stopping is None and self.error is None

    async def _submit_loop(self, lane: Lane) -> None:
        """Send this account's share of one model's tasks within its quota; a task is taken from
        the shared queue only once this account has room for it."""
        queue, slots, desk = lane.queue, lane.slots, self._desk
        while self._sending():
            if self._blocked(lane):
                await desk.wait_for_change(None)
                continue
            task = queue.take(self._clock.now())
            if task is None:
                await desk.wait_for_change(queue.wait_hint(self._clock.now()))
                continue
            desk.trace.mark(task, "taken")
            spec = self._store.spec(task)
            if desk.over_budget(spec, self.endpoint):
                queue.put_back(task)
                desk.stop("max-cost", now=False)
                return
            self._pacing += 1
            try:
                await lane.pacer.wait()
            except anyio.get_cancelled_exc_class():  # the account was dropped: another sends it
                queue.put_back(task)
                raise
            finally:
                self._pacing -= 1
            if not self._sending() or self._blocked(lane):
                queue.put_back(task)
                desk.notify()  # another account may send it now
                continue
            desk.trace.mark(task, "paced")
            beyond = slots.beyond_quota()
            slots.hold(task, spec)
            slots.posting_started(beyond)
            assert self._group is not None
            self._group.start_soon(self._submit_one, task, spec, beyond)

    def _blocked(self, lane: Lane) -> bool:
        return self.reconciler.running or lane.slots.blocked()

    async def _submit_one(self, task: str, spec: TaskSpec, beyond: bool) -> None:
        try:
            with anyio.CancelScope(shield=True):  # a stop must not strand a sent request unjournalled
                result = await submit_task(
                    self._store,
                    self._client,
                    task,
                    spec,
                    self._clock,
                    self.uploader,
                    self.account,
                    trace=self._desk.trace,
                )
                self._after_submit(task, spec, result, beyond)
        finally:
            self.lanes.of(task).slots.posting_ended(beyond)
            self._desk.notify()

    def _after_submit(self, task: str, spec: TaskSpec, result: SubmitResult, beyond: bool) -> None:
        error, lane, stats = result.error, self.lanes.of(task), self._desk.stats
        if result.outcome is Outcome.ACCEPTED and result.task_id is not None:
            self._reachability.answered()
            self.reconciler.created(result.task_id)
            self._backoff.accepted(task)
            stats.submitted += 1
            stats.note_submit(task, self._clock.now())
            self.poller.watch(task, spec, sent_local=result.sent_local)
        elif result.outcome is Outcome.AMBIGUOUS:
            log.warning("Task %r: %s", task, error)
            assert self._group is not None
            self.reconciler.schedule(self._group)
        elif result.outcome is Outcome.DEFERRED and isinstance(error, TransientApiError):
            lane.slots.release(task)
            self._defer(task, error, beyond)
        else:
            lane.slots.release(task)
            if isinstance(error, AccountError):
                lane.queue.put_back(task)  # nothing was created: another account may send it
                self.account_failed(error)
            elif result.outcome is Outcome.REJECTED and self._desk.retry(task):
                # refused for a reason that may pass (an input the service timed out downloading)
                lane.queue.defer(task, self._clock.now() + self._backoff.delay(task, None))

    def _defer(self, task: str, error: TransientApiError, beyond: bool) -> None:
        """Back off a task whose create was refused before anything was created."""
        unreachable = error.status_code is None and error.code is None
        if unreachable and self._reachability.should_give_up(self._clock.now(), error):
            self._desk.stop("unreachable", now=True)
        lane = self.lanes.of(task)
        if error.status_code == 429:
            self._desk.stats.throttled += 1
            lane.pacer.throttled(error.retry_after)
            self.lanes.queue_ahead.throttled(beyond)
        lane.queue.defer(task, self._clock.now() + self._backoff.delay(task, error.retry_after))
        self._desk.notify()

    # -- what the reconciler reports ------------------------------------------------------

    async def creates_settled(self) -> None:
        while self.lanes.posting:
            await self._desk.wait_for_change(None)

    def resubmit(self, task: str) -> None:
        lane = self.lanes.of(task)
        lane.slots.release(task)
        lane.queue.put_back(task)
        self._desk.notify()

    def reconciled(self) -> None:
        self._desk.notify()

    # -- what the poller and the downloader report -----------------------------------------

    def task_left_server(self, task: str) -> None:
        self.lanes.of(task).slots.vacate(task)
        self._desk.wake()

    def task_succeeded(self, task: str) -> None:
        lane = self.lanes.of(task)
        lane.slots.release(task)
        self._note_finished(task, lane)
        self._desk.wake()  # first: the freed slot's next submission goes before the download
        self.downloader.enqueue(task)
        self._desk.check_finished()

    def task_ended(self, task: str) -> None:
        lane = self.lanes.of(task)
        lane.slots.release(task)
        self._note_finished(task, lane)
        if self._desk.retry(task):
            lane.queue.append(task)
        self._desk.notify()

    def _note_finished(self, task: str, lane: Lane) -> None:
        record = self._store.record(task)
        self._desk.stats.note_finished(task, record, self._clock.now(), model=lane.model)

    def download_settled(self, task: str) -> None:
        if self._store.record(task).state is TaskState.DONE:
            self._desk.stats.note_done(self._clock.now())
        self._desk.check_finished()

    def disk_full(self, error: DownloadError) -> None:
        self._desk.disk_full(error)

    def account_failed(self, error: AccountError) -> None:
        """The service refused this account: it sends, polls and fetches nothing more."""
        if self.error is not None:
            return
        self.error = error
        self._scope.cancel()  # creates being sent finish first: they are shielded
        self._desk.account_dropped(self, error)
