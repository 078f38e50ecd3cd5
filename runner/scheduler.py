"""The engine of `runner run`: submit → poll → download, within the account's four budgets.

1. Submit pacing: a smooth GCRA at the model's rate, halved on a 429 and regrown (AIMD).
2. In-flight slots: the concurrency quota (+ queue-ahead), counted from the journal at
   startup and held from the submit intent until the server reports a terminal state.
3. One poll scheduler (runner.polling) within the task-endpoint budget.
4. A download pool (runner.downloads) that never holds a slot.

Every transition is journalled before the action it announces; the submit intent is
committed durably before the POST, so a crash at any instant is resumable. Failures of
one task are recorded and summarised, never raised; an account-level error stops the
run at once (`account_error`). All scheduling uses the monotonic clock.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import anyio

from runner.catalog import Endpoint
from runner.client import DashScopeClient
from runner.costs import reserved_cost
from runner.crashpoints import crash_point
from runner.downloads import Downloader
from runner.errors import AccountError, DownloadError, JournalFullError, StoreError, TransientApiError
from runner.estimates import ClockMap
from runner.lifecycle import Event
from runner.polling import Poller
from runner.ratelimit import Aimd, AnyioClock, Clock, Pacer
from runner.reconcile import known_task_ids, reconcile
from runner.results import write_status_table
from runner.runstats import RunStats, Snapshot, build_summary, is_retryable
from runner.startup import recover_journal
from runner.store import Store
from runner.submission import Outcome, SubmitQueue, SubmitResult, submit_task
from runner.tasks import RunSummary, TaskSpec, TaskState
from runner.uploads import AssetUploader, UploadSettings

__all__ = ["DEFAULT_QUEUE_AHEAD", "Engine", "EngineConfig", "Snapshot", "crash_point"]

log = logging.getLogger(__name__)

DEFAULT_QUEUE_AHEAD: Final = 2
_IN_FLIGHT: Final = (TaskState.PENDING, TaskState.RUNNING)
_DEFER_BASE_S: Final = 1.0  # server seconds
_DEFER_CAP_S: Final = 60.0
_QUEUE_AHEAD_RETRY_S: Final = 60.0  # server seconds before queue-ahead is tried again
_AIMD_RECOVERY_S: Final = 20.0  # server seconds from a cut rate back to the quota
_RECONCILE_DELAY_S: Final = 2.0  # server seconds: let the task list catch up with the create


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Limits and knobs of one run; rates and times are in server seconds."""

    concurrency: int
    submit_rate: float
    queue_ahead: int = DEFAULT_QUEUE_AHEAD  #: tasks submitted beyond the concurrency quota
    max_cost: float | None = None
    max_wall_time: float | None = None  #: real seconds
    max_attempts: int = 3
    download_workers: int = 4
    poll_rate: float = 15.0  #: task-endpoint requests per second (the account allows 20)
    time_scale: float = 1.0  #: real seconds per server second (only a simulator compresses time)
    learn_clock: bool = False  #: fit the server clock's rate (a simulator of unknown time scale)
    status_every: float = 30.0  #: real seconds between status table rewrites
    retry_failed: bool = False
    retry_codes: frozenset[str] = frozenset()
    max_posts_in_flight: int = 2  #: bounds how many submissions a crash can leave ambiguous
    #: real seconds of connection failures, with no answer ever received, before the run gives up
    unreachable_give_up_s: float = 60.0
    uploads: UploadSettings = field(default_factory=UploadSettings)  #: data: URL threshold, upload pool


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
        self._random = random.Random(seed)
        scale = config.time_scale
        uploads = replace(config.uploads, time_scale=scale)
        self.uploader = AssetUploader(store, client, uploads, clock=self._clock)
        aimd = Aimd(config.submit_rate / scale, recovery_s=_AIMD_RECOVERY_S * scale, cooldown_s=scale)
        self._submit_pacer = Pacer(config.submit_rate / scale, clock=self._clock, aimd=aimd)
        clock_map = ClockMap(1.0 / scale, fit_slope=config.learn_clock)
        poll_pacer = Pacer(config.poll_rate / scale, clock=self._clock)
        self.poller = Poller(
            store,
            client,
            poll_pacer,
            self,
            endpoint=endpoint,
            concurrency=config.concurrency,
            clock_map=clock_map,
            seed=seed,
        )
        self.downloader = Downloader(
            store, client, self.poller, run_dir, self, workers=config.download_workers, retry_delay=0.2
        )
        self.stats = RunStats()
        self.account_error: AccountError | None = None
        self.disk_error: DownloadError | None = None
        self.journal_error: BaseException | None = None  #: JournalFullError that stopped the run
        self.queue_ahead = config.queue_ahead
        self._surplus_refusals = 0
        self._surplus_posting = 0  # creates in flight for tasks beyond the concurrency quota
        self._queue_ahead_retry_at: float | None = None
        self._queue = SubmitQueue()
        self._deferrals: dict[str, int] = {}
        self._in_flight = 0
        self._posting = 0
        self._reconciling = False
        self._reconcile_scheduled = False
        self._reserved: dict[str, float] = {}
        self._intents_local: dict[str, float] = {}
        self._known: set[str] = set()
        self._answered = False  # any create accepted in this run: the endpoint is reachable
        self._unreachable_since: float | None = None
        self._stop_reason: str | None = None
        self._finished = anyio.Event()
        self._changed = anyio.Event()
        self._started_local = 0.0
        self._started_wall = 0.0

    # -- public ------------------------------------------------------------------------

    async def run(self) -> RunSummary:
        """Run until every task is settled or the run is stopped; return the summary."""
        self._started_local = self._clock.now()
        self._started_wall = time.time()
        self._prepare()
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                group.start_soon(self.poller.run)
                group.start_soon(self.downloader.run)
                group.start_soon(self._status_loop)
                if self.config.max_wall_time is not None:
                    group.start_soon(self._wall_time_guard, self.config.max_wall_time)
                await self._reconcile()
                group.start_soon(self._submit_loop)
                self._check_finished()
                await self._finished.wait()
                group.cancel_scope.cancel()
        except* JournalFullError as full:
            self._journal_full(_first_leaf(full))
        finally:
            self._write_status_table()
        return self.summary()

    def request_stop(self, reason: str = "interrupted") -> None:
        """Stop now (Ctrl-C, a deadline): no new submissions, in-flight tasks stay journalled."""
        self._stop(reason, now=True)

    def snapshot(self) -> Snapshot:
        """Counts, cost, rates and ETA for a progress display (cheap enough for 2 Hz)."""
        counts = self._store.counts()
        remaining = sum(n for state, n in counts.items() if state not in _SETTLED)
        median = self.poller.typical_duration_local()
        eta = remaining * median / max(1, self.config.concurrency) if median and remaining else None
        return Snapshot(
            counts=counts,
            total=sum(counts.values()),
            done_this_run=self.stats.done,
            cost=self.stats.cost_so_far(self._store),
            currency=self._endpoint.currency,
            submit_rate=self._submit_pacer.rate * self.config.time_scale,
            submitted=self.stats.submitted,
            slots_used=self._in_flight,
            slots_capacity=self._capacity(),
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
            concurrency=self.config.concurrency,
            submit_rate=self.config.submit_rate,
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
        )
        self.stats.skipped = recovered.done_before
        self.stats.retried += recovered.retried
        self._known = known_task_ids(store)
        for record in recovered.in_flight:
            spec = store.spec(record.id)
            self._hold_slot(record.id, spec)
            if record.state is not TaskState.AMBIGUOUS:
                self.poller.watch(
                    record.id, spec, sent_local=self._local_of(record.submitted_at), fresh=False
                )
        for task in recovered.to_download:
            self.downloader.enqueue(task)
        for task in recovered.to_submit:
            self._queue.append(task)

    def _local_of(self, wall: float | None) -> float | None:
        """A journalled wall-clock instant on our monotonic clock (to learn the server's clock)."""
        return None if wall is None else self._clock.now() - (time.time() - wall)

    def _wanted(self, task: str) -> bool:
        return self._only is None or task in self._only

    # -- submitting --------------------------------------------------------------------

    async def _submit_loop(self) -> None:
        while self._stop_reason is None:
            task = self._queue.take(self._clock.now())
            if task is None:
                await self._wait_for_change(self._queue.wait_hint(self._clock.now()))
                continue
            spec = self._store.spec(task)
            if self._blocked():
                self._queue.put_back(task)
                await self._wait_for_change(None)
                continue
            if self._over_budget(spec):
                self._queue.put_back(task)
                self._stop("max-cost", now=False)
                return
            await self._submit_pacer.wait()
            if self._stop_reason is not None or self._blocked():
                self._queue.put_back(task)
                continue
            beyond = self._in_flight >= self.config.concurrency
            self._hold_slot(task, spec)
            self._posting += 1
            self._surplus_posting += beyond
            self._group.start_soon(self._submit_one, task, spec, beyond)

    def _blocked(self) -> bool:
        """No free slot, too many creates in flight, a reconciliation running, or a task beyond
        the quota already being sent (one at a time: a server that refuses surplus answers 429)."""
        if self._reconciling or self._in_flight >= self._capacity():
            return True
        if self._posting >= self.config.max_posts_in_flight:
            return True
        beyond = self._in_flight >= self.config.concurrency
        return beyond and self._surplus_posting > 0

    async def _submit_one(self, task: str, spec: TaskSpec, beyond: bool) -> None:
        try:
            with anyio.CancelScope(shield=True):  # a stop must not strand a sent request unjournalled
                result = await submit_task(self._store, self._client, task, spec, self._clock, self.uploader)
                if result.sent_local is not None:
                    self._intents_local[task] = result.sent_local
                self._after_submit(task, spec, result, beyond)
        finally:
            self._posting -= 1
            self._surplus_posting -= beyond
            self._notify()

    def _after_submit(self, task: str, spec: TaskSpec, result: SubmitResult, beyond: bool) -> None:
        error = result.error
        if result.outcome is Outcome.ACCEPTED and result.task_id is not None:
            self._answered = True
            self._known.add(result.task_id)
            self._deferrals.pop(task, None)
            self.stats.submitted += 1
            self.stats.note_submit(task, self._clock.now())
            self.poller.watch(task, spec, sent_local=result.sent_local)
        elif result.outcome is Outcome.AMBIGUOUS:
            log.warning("Task %r: %s", task, error)
            self._schedule_reconcile()
        elif result.outcome is Outcome.DEFERRED and isinstance(error, TransientApiError):
            self._release(task)
            self._defer(task, error, beyond)
        else:
            self._release(task)
            if isinstance(error, AccountError):
                self.account_failed(error)

    def _defer(self, task: str, error: TransientApiError, beyond: bool) -> None:
        """Back off a task whose create was refused before anything was created."""
        if error.status_code is None and error.code is None:
            self._note_unreachable(error)
        if error.status_code == 429:
            self.stats.throttled += 1
            self._submit_pacer.throttled(error.retry_after)
            if beyond and self.queue_ahead > 0:
                self._surplus_refused()
            elif not beyond:
                self._throttled_within_quota()
        count = self._deferrals[task] = self._deferrals.get(task, 0) + 1
        ceiling = min(_DEFER_CAP_S, _DEFER_BASE_S * 2 ** (count - 1)) * self.config.time_scale
        delay = max(ceiling * self._random.uniform(0.5, 1.0), error.retry_after or 0.0)
        self._queue.defer(task, self._clock.now() + delay)
        self._notify()

    def _note_unreachable(self, error: TransientApiError) -> None:
        """A connection failure. An endpoint that has never answered in this run (a mistyped URL,
        no network) stops the run after a while instead of retrying for ever; once it has
        answered, outages are waited out (tasks live 24 h on the server; --max-wall-time bounds it)."""
        if self._answered:
            return
        now = self._clock.now()
        if self._unreachable_since is None:
            self._unreachable_since = now
        elif now - self._unreachable_since >= self.config.unreachable_give_up_s:
            log.error(
                "Cannot reach %s: every submission for %.0f s failed before it was sent (%s). Check "
                "--endpoint and the network, then run again; nothing was submitted.",
                self._endpoint.base_url,
                now - self._unreachable_since,
                error,
            )
            self._stop("unreachable", now=True)

    def _surplus_refused(self) -> None:
        """A 429 on a task beyond the concurrency quota: the server refuses surplus tasks, or it
        was plain rate throttling. Queue-ahead goes off; it is tried once more only if a task
        within the quota is throttled too (then the first 429 may have been throttling)."""
        self._surplus_refusals += 1
        self.queue_ahead = 0
        self._queue_ahead_retry_at = None
        if self._surplus_refusals == 1:
            log.warning(
                "A submission beyond the concurrency quota got HTTP 429: DashScope seems to refuse "
                "tasks beyond the quota, so queue-ahead is off (--queue-ahead 0 skips this probe)."
            )
        else:
            log.warning(
                "DashScope refuses tasks beyond the concurrency quota; queue-ahead is off for this run."
            )

    def _throttled_within_quota(self) -> None:
        """Rate throttling is in play: if it may explain the one surplus 429, try again later."""
        if self._surplus_refusals == 1 and self._queue_ahead_retry_at is None:
            self._queue_ahead_retry_at = self._clock.now() + _QUEUE_AHEAD_RETRY_S * self.config.time_scale

    def _capacity(self) -> int:
        retry_at = self._queue_ahead_retry_at
        if retry_at is not None and self._clock.now() >= retry_at:
            self._queue_ahead_retry_at = None
            self.queue_ahead = self.config.queue_ahead
        return self.config.concurrency + self.queue_ahead

    def _over_budget(self, spec: TaskSpec) -> bool:
        limit = self.config.max_cost
        if limit is None:
            return False
        committed = self.stats.cost_so_far(self._store) + sum(self._reserved.values())
        return committed + reserved_cost(spec, self._endpoint) > limit + 1e-9

    def _hold_slot(self, task: str, spec: TaskSpec) -> None:
        self._in_flight += 1
        self._reserved[task] = reserved_cost(spec, self._endpoint)

    def _release(self, task: str) -> None:
        """Free the task's slot; the caller calls `_notify` once its bookkeeping is complete."""
        self._in_flight -= 1
        self._reserved.pop(task, None)

    # -- reconciliation ------------------------------------------------------------------

    def _schedule_reconcile(self) -> None:
        if not self._reconcile_scheduled:
            self._reconcile_scheduled = True
            self._group.start_soon(self._reconcile_later)

    async def _reconcile_later(self) -> None:
        await anyio.sleep(max(0.05, _RECONCILE_DELAY_S * self.config.time_scale))
        self._reconcile_scheduled = False
        await self._reconcile()

    async def _reconcile(self) -> None:
        """Settle ambiguous submissions while no create is in flight (its task would look foreign)."""
        if not self._store.counts().get(TaskState.AMBIGUOUS):
            return
        self._reconciling = True
        try:
            while self._posting:
                await self._wait_for_change(None)
            result = await reconcile(
                self._store,
                self.poller,
                intents_local=self._intents_local,
                clock_map=self.poller.clock_map,
                known=self._known,
            )
        except AccountError as error:
            self.account_failed(error)
            return
        finally:
            self._reconciling = False
            self._notify()
        for task in result.adopted:
            self.stats.reconciled += 1
            sent = self._intents_local.get(task) or self._local_of(self._store.record(task).submitted_at)
            self.poller.watch(task, self._store.spec(task), sent_local=sent, fresh=False)
        for task in result.not_found:
            self.stats.resubmitted_after_ambiguity += 1
            self._release(task)
            self._queue.put_back(task)
        if result.postponed:
            self._schedule_reconcile()
        self._notify()

    # -- what the poller and the downloader report -----------------------------------------

    def task_succeeded(self, task: str) -> None:
        self._release(task)
        self.stats.note_finished(task, self._store.record(task), self._clock.now())
        self._wake()  # first: the freed slot's next submission goes before the download
        self.downloader.enqueue(task)
        self._check_finished()

    def task_ended(self, task: str) -> None:
        self._release(task)
        record = self._store.record(task)
        self.stats.note_finished(task, record, self._clock.now())
        retry = (
            record.state is TaskState.FAILED
            and is_retryable(record.error_code)
            and record.attempts < self.config.max_attempts
            and self._stop_reason is None
        )
        if retry:
            self._store.transition(task, Event.RETRY, detail={"code": record.error_code})
            self.stats.retried += 1
            self._queue.append(task)
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
        submitting = self._stop_reason is None and bool(self._queue)
        busy = self._in_flight or self._posting or self.downloader.queued
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

    async def _status_loop(self) -> None:
        """Rewrite the status table now and then, in a worker thread with its own read-only
        journal connection: at 100,000 tasks a rewrite takes seconds, which on the event loop
        would stall every poll, submission and download meanwhile."""
        while True:
            await anyio.sleep(self.config.status_every)
            await anyio.to_thread.run_sync(self._write_status_snapshot)

    def _write_status_snapshot(self) -> None:
        try:
            reader = Store.open_readonly(self._store.path)
            if reader is not None:
                with reader:
                    write_status_table(self._run_dir, reader)
        except (OSError, StoreError) as error:
            log.warning("Could not write the status table: %s", error)

    def _write_status_table(self) -> None:
        try:
            write_status_table(self._run_dir, self._store)
        except OSError as error:
            log.warning("Could not write the status table: %s", error)


_SETTLED: Final = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED, TaskState.EXPIRED})


def _first_leaf(error: BaseException) -> BaseException:
    """The first exception of a (nested) exception group: the one worth showing."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
