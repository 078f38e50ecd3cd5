"""The engine of `runner run`: submit → poll → download, within the account's four budgets.

1. Submit pacing and 2. in-flight slots, per model (runner.engine.lanes): a smooth GCRA at
   the model's rate, halved on a 429 and regrown; its concurrency quota, held from the
   submit intent to a terminal state. One submit loop per model.
3. One poll scheduler (runner.engine.polling) within the task-endpoint budget.
4. A download pool (runner.engine.downloads) that never holds a slot.

Every transition is journalled before the action it announces; the submit intent is
committed durably before the POST, so a crash at any instant is resumable. Failures of
one task are recorded and summarised, never raised; an account-level error stops the
run at once (`account_error`). All scheduling uses the monotonic clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

import anyio

from runner.api import DashScopeClient
from runner.core import (
    TERMINAL_STATES,
    AccountError,
    DownloadError,
    Endpoint,
    Event,
    JournalFullError,
    RunSummary,
    TaskSpec,
    TaskState,
    TransientApiError,
)
from runner.engine.config import EngineConfig
from runner.engine.downloads import Downloader
from runner.engine.lanes import Lane, Lanes
from runner.engine.polling.estimates import ClockMap
from runner.engine.polling.poller import Poller
from runner.engine.ratelimit import AnyioClock, Clock, Pacer
from runner.engine.reconciliation.passes import Reconciler
from runner.engine.runstats import RunStats, Snapshot, build_summary, is_retryable
from runner.engine.startup import recover_journal
from runner.engine.submission import Outcome, Reachability, SubmitBackoff, SubmitResult, submit_task
from runner.engine.uploads import AssetUploader
from runner.journal import Store
from runner.outputs import ReportSnapshots, StatusWriter

__all__ = ["Engine"]

log = logging.getLogger(__name__)


class Engine:
    """Runs the journal's tasks to completion (or until stopped) against one client."""

    def __init__(
        self,
        store: Store,
        client: DashScopeClient,
        run_dir: Path,
        endpoint: Endpoint,
        config: EngineConfig,
        *,
        clock: Clock | None = None,
        seed: int | None = None,
        task_ids: Collection[str] | None = None,
    ) -> None:
        """`task_ids`: submit only these (the manifest's tasks); None: every planned task."""
        self._store = store
        self._only = None if task_ids is None else frozenset(task_ids)
        self._client = client
        self._run_dir = run_dir
        self._endpoint = endpoint
        self.config = config
        self._clock: Clock = clock or AnyioClock()
        self._backoff = SubmitBackoff(time_scale=config.time_scale, seed=seed)
        scale = config.time_scale
        uploads = replace(config.uploads, time_scale=scale)
        self.uploader = AssetUploader(store, client, uploads, clock=self._clock)
        self.lanes = Lanes(store.models(), config, self._clock, endpoint)
        clock_map = ClockMap(1.0 / scale, fit_slope=config.learn_clock)
        poll_pacer = Pacer(config.poll_rate / scale, clock=self._clock)
        self.poller = Poller(
            store,
            client,
            poll_pacer,
            self,
            endpoint=endpoint,
            concurrency=lambda model: config.quota(model).concurrency,
            clock_map=clock_map,
            seed=seed,
        )
        self.downloader = Downloader(
            store,
            client,
            self.poller,
            run_dir,
            self,
            transfers=config.download_transfers,
            retry_delay=0.2,
            offload=config.offload,
            max_video_mb=config.max_video_mb,
        )
        self.stats = RunStats()
        self.account_error: AccountError | None = None
        self.disk_error: DownloadError | None = None
        self.journal_error: BaseException | None = None  #: JournalFullError that stopped the run
        every, offload, report = config.status_every, config.offload, ReportSnapshots(run_dir, store)
        self._status = StatusWriter(run_dir, store, every=every, offload=offload, also=report.refresh)
        self._reconciler = Reconciler(
            store, self.poller, self.stats, self, time_scale=scale, wait_s=config.reconcile_wait_s
        )
        self._reachability = Reachability(config.unreachable_give_up_s, base_url=endpoint.base_url)
        self._stop_reason: str | None = None
        self._finished = anyio.Event()
        self._changed = anyio.Event()
        self._started_local = 0.0

    # -- public ------------------------------------------------------------------------

    @property
    def queue_ahead(self) -> int:
        """Tasks that may be submitted beyond each model's concurrency quota (0 once the server
        refused one)."""
        return self.lanes.queue_ahead.current

    async def run(self) -> RunSummary:
        """Run until every task is settled or the run is stopped; return the summary."""
        self._started_local = self._clock.now()
        self._prepare()
        self._status.refresh()
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                group.start_soon(self.poller.run)
                group.start_soon(self.downloader.run)
                group.start_soon(self._status.run)
                if self.config.max_wall_time is not None:
                    group.start_soon(self._wall_time_guard, self.config.max_wall_time)
                await self._reconciler.claim_orphans(self.lanes)
                await self._reconciler.run_pass(group)
                for lane in self.lanes:
                    group.start_soon(self._submit_loop, lane)
                self._check_finished()
                await self._finished.wait()
                group.cancel_scope.cancel()
        except* JournalFullError as full:
            self._journal_full(_first_leaf(full))
        finally:
            self._status.refresh(also=False)  # the last report.html is the caller's, once it records the end
        return self.summary()

    def request_stop(self, reason: str = "interrupted") -> None:
        """Stop now (Ctrl-C, a deadline): no new submissions, in-flight tasks stay journalled."""
        self._stop(reason, now=True)

    def snapshot(self) -> Snapshot:
        """Counts, cost, rates and ETA for a progress display (cheap enough for 2 Hz)."""
        counts = self._store.counts()
        remaining = sum(n for state, n in counts.items() if state not in TERMINAL_STATES)
        median = self.poller.typical_duration_local()
        eta = self.lanes.time_left(median) if median and remaining else None
        return Snapshot(
            counts=counts,
            total=sum(counts.values()),
            done_this_run=self.stats.done,
            cost=self.stats.cost_so_far(),
            currency=self._endpoint.currency,
            submit_rate=self.lanes.submit_rate * self.config.time_scale,
            submitted=self.stats.submitted,
            slots_used=self.lanes.held,
            slots_capacity=self.lanes.capacity,
            polls=self.poller.polls,
            elapsed_s=self._clock.now() - self._started_local,
            eta_s=eta,
            stopping=self._stop_reason,
        )

    def summary(self) -> RunSummary:
        return build_summary(
            self._store,
            self.stats,
            currency=self._endpoint.currency,
            wall_time_s=self._clock.now() - self._started_local,
            stopped_reason=self._stop_reason,
            quota_of=self.config.quota,
            slope=self.poller.clock_map.slope,
        )

    # -- startup -----------------------------------------------------------------------

    def _prepare(self) -> None:
        """Repair the journal of an interrupted run; hold slots for what is still in flight."""
        store = self._store
        recovered = recover_journal(
            store,
            self._run_dir,
            wanted=self._wanted,
            retry_failed=self.config.retry_failed,
            retry_codes=self.config.retry_codes,
            verify=self.config.verify,
        )
        self.stats.skipped = recovered.done_before
        self.stats.count_cost_from(store)
        self.stats.retried += recovered.retried
        self._reconciler.load_known()
        for record in recovered.in_flight:
            spec = store.spec(record.id)
            self.lanes.of(record.id).slots.hold(record.id, spec)
            if record.state is not TaskState.AMBIGUOUS:
                self.poller.watch(
                    record.id, spec, sent_local=self._local_of(record.submitted_at), fresh=False
                )
        for task in recovered.to_download:
            self.downloader.enqueue(task)
        for task in recovered.to_submit:
            self.lanes.of(task).queue.append(task)

    def _local_of(self, wall: float | None) -> float | None:
        """A journalled wall-clock instant on our monotonic clock (to learn the server's clock)."""
        return None if wall is None else self._clock.now() - (time.time() - wall)

    def _wanted(self, task: str) -> bool:
        return self._only is None or task in self._only

    # -- submitting --------------------------------------------------------------------

    async def _submit_loop(self, lane: Lane) -> None:
        """Submit one model's tasks within its quota, until none is left or the run stops."""
        queue, slots = lane.queue, lane.slots
        while self._stop_reason is None:
            task = queue.take(self._clock.now())
            if task is None:
                await self._wait_for_change(queue.wait_hint(self._clock.now()))
                continue
            spec = self._store.spec(task)
            if self._blocked(lane):
                queue.put_back(task)
                await self._wait_for_change(None)
                continue
            if self._over_budget(spec):
                queue.put_back(task)
                self._stop("max-cost", now=False)
                return
            await lane.pacer.wait()
            if self._stop_reason is not None or self._blocked(lane):
                queue.put_back(task)
                continue
            beyond = slots.beyond_quota()
            slots.hold(task, spec)
            slots.posting_started(beyond)
            self._group.start_soon(self._submit_one, task, spec, beyond)

    def _blocked(self, lane: Lane) -> bool:
        return self._reconciler.running or lane.slots.blocked()

    async def _submit_one(self, task: str, spec: TaskSpec, beyond: bool) -> None:
        try:
            with anyio.CancelScope(shield=True):  # a stop must not strand a sent request unjournalled
                result = await submit_task(self._store, self._client, task, spec, self._clock, self.uploader)
                self._after_submit(task, spec, result, beyond)
        finally:
            self.lanes.of(task).slots.posting_ended(beyond)
            self._notify()

    def _after_submit(self, task: str, spec: TaskSpec, result: SubmitResult, beyond: bool) -> None:
        error = result.error
        if result.outcome is Outcome.ACCEPTED and result.task_id is not None:
            self._reachability.answered()
            self._reconciler.created(result.task_id)
            self._backoff.accepted(task)
            self.stats.submitted += 1
            self.stats.note_submit(task, self._clock.now())
            self.poller.watch(task, spec, sent_local=result.sent_local)
        elif result.outcome is Outcome.AMBIGUOUS:
            log.warning("Task %r: %s", task, error)
            self._reconciler.schedule(self._group)
        elif result.outcome is Outcome.DEFERRED and isinstance(error, TransientApiError):
            self.lanes.of(task).slots.release(task)
            self._defer(task, error, beyond)
        else:
            self.lanes.of(task).slots.release(task)
            if isinstance(error, AccountError):
                self.account_failed(error)
            elif result.outcome is Outcome.REJECTED and self._retry(task):
                # refused for a reason that may pass (an input the service timed out downloading)
                self.lanes.of(task).queue.defer(task, self._clock.now() + self._backoff.delay(task, None))

    def _retry(self, task: str) -> bool:
        """Plan a failed task again if its failure may pass and it has attempts left."""
        record = self._store.record(task)
        worth = record.state is TaskState.FAILED and is_retryable(record.error_code, record.error_message)
        if not worth or record.attempts >= self.config.max_attempts or self._stop_reason is not None:
            return False
        self._store.transition(task, Event.RETRY, detail={"code": record.error_code})
        self.stats.retried += 1
        return True

    def _defer(self, task: str, error: TransientApiError, beyond: bool) -> None:
        """Back off a task whose create was refused before anything was created."""
        unreachable = error.status_code is None and error.code is None
        if unreachable and self._reachability.should_give_up(self._clock.now(), error):
            self._stop("unreachable", now=True)
        lane = self.lanes.of(task)
        if error.status_code == 429:
            self.stats.throttled += 1
            lane.pacer.throttled(error.retry_after)
            self.lanes.queue_ahead.throttled(beyond)
        lane.queue.defer(task, self._clock.now() + self._backoff.delay(task, error.retry_after))
        self._notify()

    def _over_budget(self, spec: TaskSpec) -> bool:
        limit = self.config.max_cost
        if limit is None:
            return False
        return self.lanes.over_budget(spec, spent=self.stats.cost_so_far(), limit=limit)

    # -- what the reconciler reports ------------------------------------------------------

    async def creates_settled(self) -> None:
        while self.lanes.posting:
            await self._wait_for_change(None)

    def resubmit(self, task: str) -> None:
        lane = self.lanes.of(task)
        lane.slots.release(task)
        lane.queue.put_back(task)
        self._notify()

    def reconciled(self) -> None:
        self._notify()

    # -- what the poller and the downloader report -----------------------------------------

    def task_left_server(self, task: str) -> None:
        self.lanes.of(task).slots.vacate(task)
        self._wake()

    def task_succeeded(self, task: str) -> None:
        lane = self.lanes.of(task)
        lane.slots.release(task)
        self.stats.note_finished(task, self._store.record(task), self._clock.now(), model=lane.model)
        self._wake()  # first: the freed slot's next submission goes before the download
        self.downloader.enqueue(task)
        self._check_finished()

    def task_ended(self, task: str) -> None:
        lane = self.lanes.of(task)
        lane.slots.release(task)
        self.stats.note_finished(task, self._store.record(task), self._clock.now(), model=lane.model)
        if self._retry(task):
            lane.queue.append(task)
        self._notify()

    def download_settled(self, task: str) -> None:
        if self._store.record(task).state is TaskState.DONE:
            self.stats.note_done(self._clock.now())
        self._check_finished()

    def disk_full(self, error: DownloadError) -> None:
        self.disk_error = error
        log.error("%s", error)
        self._stop("disk-full", now=False)

    def _journal_full(self, error: BaseException) -> None:
        """The journal cannot grow: stop as a full disk stops downloads (exit 4, resumable)."""
        self.journal_error = error
        log.error("%s", error)
        self._stop("disk-full", now=True)

    def account_failed(self, error: AccountError) -> None:
        if self.account_error is None:
            self.account_error = error
        self._stop("account", now=True)

    # -- stopping and housekeeping --------------------------------------------------------

    def _stop(self, reason: str, *, now: bool) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
        if now:
            self._finished.set()
        self._notify()

    def _check_finished(self) -> None:
        submitting = self._stop_reason is None and self.lanes.waiting
        busy = self.lanes.unsettled or self.lanes.posting or self.downloader.queued
        if not submitting and not busy:
            self._finished.set()

    def _notify(self) -> None:
        self._wake()
        self._check_finished()

    def _wake(self) -> None:
        """Wake every waiter (each waits on the event current when it started waiting)."""
        self._changed.set()
        self._changed = anyio.Event()

    async def _wait_for_change(self, delay: float | None) -> None:
        changed = self._changed
        with anyio.move_on_after(delay):
            await changed.wait()

    async def _wall_time_guard(self, seconds: float) -> None:
        await anyio.sleep(seconds)
        log.warning("The run reached its wall-time limit; in-flight tasks stay in the journal.")
        self._stop("max-wall-time", now=True)


def _first_leaf(error: BaseException) -> BaseException:
    """The first exception of a (nested) exception group: the one worth showing."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
