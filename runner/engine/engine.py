"""The engine of `runner run`: submit → poll → download, within each account's four budgets.

1. Submit pacing and 2. in-flight slots, per account and model (runner.engine.lanes): a
   smooth GCRA at the model's rate, halved on a 429 and regrown; its concurrency quota, held
   from the submit intent to a terminal state.
3. One poll scheduler per account (runner.engine.polling) within its task-endpoint budget.
4. A download pool (runner.engine.downloads) that never holds a slot.

A run drives one account, or several (runner.engine.account): each model's waiting tasks are
shared, and the account whose slot frees first sends the next one. Every transition is
journalled before the action it announces; the submit intent (naming its account) is
committed durably before the POST, so a crash at any instant is resumable. Failures of one
task are recorded and summarised, never raised; an account the service refuses is dropped
and the run stops only when no account is left (`account_error`). All scheduling uses the
monotonic clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from pathlib import Path

import anyio

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
    reserved_cost,
)
from runner.engine.account import AccountLink, AccountWorker
from runner.engine.config import EngineConfig
from runner.engine.ratelimit import AnyioClock, Clock
from runner.engine.runstats import RunStats, Snapshot, build_summary, is_retryable
from runner.engine.startup import recover_journal
from runner.engine.submission import SubmitQueue
from runner.engine.trace import NO_TRACE, Trace
from runner.journal import Store
from runner.outputs import ReportSnapshots, StatusWriter
from runner.planning import Quota

__all__ = ["Engine"]

log = logging.getLogger(__name__)


class Engine:
    """Runs the journal's tasks to completion (or until stopped) with one or more accounts."""

    def __init__(
        self,
        store: Store,
        accounts: AccountLink | Sequence[AccountLink],
        run_dir: Path,
        config: EngineConfig,
        *,
        clock: Clock | None = None,
        seed: int | None = None,
        task_ids: Collection[str] | None = None,
        trace: Trace = NO_TRACE,
    ) -> None:
        """`task_ids`: submit only these (the manifest's tasks); None: every planned task.
        `trace`: where each task's steps are timestamped (`runner run --trace`)."""
        links = [accounts] if isinstance(accounts, AccountLink) else list(accounts)
        if not links:
            raise ValueError("An engine needs at least one account.")
        self._store = store
        self._only = None if task_ids is None else frozenset(task_ids)
        self._run_dir = run_dir
        self.config = config
        self._clock: Clock = clock or AnyioClock()
        self.stats = RunStats()
        self.trace = trace
        self.endpoint: Endpoint = links[0].endpoint  #: the run's prices and currency
        models = store.models()
        self._queues = {model: SubmitQueue() for model in sorted(set(models.values()))}
        self.workers = [
            AccountWorker(
                link,
                self,
                store,
                run_dir,
                self._queues,
                models=models,
                run_config=config,
                clock=self._clock,
                seed=seed,
            )
            for link in links
        ]
        self.disk_error: DownloadError | None = None
        self.journal_error: BaseException | None = None  #: JournalFullError that stopped the run
        every, offload, report = config.status_every, config.offload, ReportSnapshots(run_dir, store)
        self._status = StatusWriter(run_dir, store, every=every, offload=offload, also=report.refresh)
        self._stop_reason: str | None = None
        self._finished = anyio.Event()
        self._changed = anyio.Event()
        self._started_local = 0.0

    # -- public ------------------------------------------------------------------------

    @property
    def account_error(self) -> AccountError | None:
        """Why the run could not finish for want of an account: every account was dropped, or
        a dropped one still holds tasks it sent; None when the others did all the work."""
        dropped = [worker for worker in self.workers if worker.error is not None]
        if not dropped:
            return None
        if len(dropped) == len(self.workers) or any(worker.busy for worker in dropped):
            return dropped[0].error
        return None

    @property
    def stopping(self) -> str | None:
        """Why the run is stopping, once it is."""
        return self._stop_reason

    async def run(self) -> RunSummary:
        """Run until every task is settled or the run is stopped; return the summary."""
        self._started_local = self._clock.now()
        if self._prepare():
            self._status.refresh()  # a finished run resumed keeps its files: nothing to show anew
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._status.run)
                if self.config.max_wall_time is not None:
                    group.start_soon(self._wall_time_guard, self.config.max_wall_time)
                for worker in self.workers:
                    group.start_soon(worker.run)
                self.check_finished()
                await self._finished.wait()
                group.cancel_scope.cancel()
        except* JournalFullError as full:
            self._journal_full(_first_leaf(full))
        finally:
            self._status.refresh(also=False)  # the last report.html is the caller's, once it records the end
        return self.summary()

    def request_stop(self, reason: str = "interrupted") -> None:
        """Stop now (Ctrl-C, a deadline): no new submissions, in-flight tasks stay journalled."""
        self.stop(reason, now=True)

    def snapshot(self) -> Snapshot:
        """Counts, cost, rates and ETA for a progress display (cheap enough for 2 Hz)."""
        counts = self._store.counts()
        remaining = sum(n for state, n in counts.items() if state not in TERMINAL_STATES)
        active = self._active()
        median = next((m for w in active if (m := w.poller.typical_duration_local())), None)
        eta = self.time_left(median) if median and remaining else None
        return Snapshot(
            counts=counts,
            total=sum(counts.values()),
            done_this_run=self.stats.done,
            cost=self.stats.cost_so_far(),
            currency=self.endpoint.currency,
            submit_rate=sum(w.lanes.submit_rate for w in active) * self.config.time_scale,
            submitted=self.stats.submitted,
            slots_used=sum(w.lanes.held for w in active),
            slots_capacity=sum(w.lanes.capacity for w in active),
            polls=sum(w.poller.polls for w in self.workers),
            elapsed_s=self._clock.now() - self._started_local,
            eta_s=eta,
            stopping=self._stop_reason,
        )

    def summary(self) -> RunSummary:
        summary = build_summary(
            self._store,
            self.stats,
            currency=self.endpoint.currency,
            wall_time_s=self._clock.now() - self._started_local,
            stopped_reason=self._stop_reason,
            quota_of=self._pooled_quota,
            slope=self.workers[0].poller.clock_map.slope,
        )
        summary.dropped_accounts = {w.name: str(w.error) for w in self.workers if w.error is not None}
        return summary

    # -- startup -----------------------------------------------------------------------

    def _prepare(self) -> bool:
        """Repair the journal of an interrupted run; give each account what it still has in
        flight; queue what is left to send. Whether there is anything left to do."""
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
        stranded: dict[str, int] = {}
        for record in recovered.in_flight:
            owner = self._owner(record.id, record.account)
            if owner is None:
                stranded[record.account or ""] = stranded.get(record.account or "", 0) + 1
                continue
            owner.take_over(record, self._local_of(record.submitted_at))
        for task in recovered.to_download:
            (self._owner(task, store.record(task).account) or self.workers[0]).downloader.enqueue(task)
        for task in recovered.to_submit:
            self._queues[store.spec(task).model].append(task)
        for account, count in stranded.items():
            log.warning(
                "%d task(s) in flight were sent with the account %r, which this run does not use: "
                "they stay in the journal. Add the account back (accounts:) and run again to finish them.",
                count,
                account,
            )
        return bool(recovered.in_flight or recovered.to_download or recovered.to_submit)

    def _owner(self, task: str, account: str | None) -> AccountWorker | None:
        """The worker of the account that sent `task`. A task journalled with no account (a run
        with one unnamed account, or a journal of an earlier version) belongs to the first."""
        if account is None:
            worker = self.workers[0]
            if worker.account is not None:  # from now on its account is on record
                self._store.amend(task, "account_assumed", account=worker.account)
            return worker
        return next((worker for worker in self.workers if worker.account == account), None)

    def _local_of(self, wall: float | None) -> float | None:
        """A journalled wall-clock instant on our monotonic clock (to learn the server's clock)."""
        return None if wall is None else self._clock.now() - (time.time() - wall)

    def _wanted(self, task: str) -> bool:
        return self._only is None or task in self._only

    # -- what the accounts ask (runner.engine.account.RunDesk) -----------------------------

    def over_budget(self, spec: TaskSpec, endpoint: Endpoint) -> bool:
        """Whether holding one more task could take the run's cost past --max-cost."""
        limit = self.config.max_cost
        if limit is None:
            return False
        reserved = sum(worker.reserved for worker in self.workers)
        spent = self.stats.cost_so_far()
        return spent + reserved + reserved_cost(spec, endpoint) > limit + 1e-9

    def retry(self, task: str) -> bool:
        """Plan a failed task again if its failure may pass and it has attempts left."""
        record = self._store.record(task)
        worth = record.state is TaskState.FAILED and is_retryable(record.error_code, record.error_message)
        if not worth or record.attempts >= self.config.max_attempts or self._stop_reason is not None:
            return False
        self._store.transition(task, Event.RETRY, detail={"code": record.error_code})
        self.stats.retried += 1
        return True

    def disk_full(self, error: DownloadError) -> None:
        self.disk_error = error
        log.error("%s", error)
        self.stop("disk-full", now=False)

    def _journal_full(self, error: BaseException) -> None:
        """The journal cannot grow: stop as a full disk stops downloads (exit 4, resumable)."""
        self.journal_error = error
        log.error("%s", error)
        self.stop("disk-full", now=True)

    def account_dropped(self, worker: AccountWorker, error: AccountError) -> None:
        """An account the service refused: the run goes on with the others, if any are left."""
        if not self._active():
            self.stop("account", now=True)
            return
        held = worker.lanes.unsettled
        log.error(
            "Account %r is out of this run: %s Its unsubmitted tasks go to the other accounts%s.",
            worker.name,
            error,
            f"; the {held} task(s) it already sent stay with it until a run with a working key "
            "finishes them (sending them again elsewhere could pay twice)"
            if held
            else "",
        )
        self.notify()

    # -- stopping and housekeeping --------------------------------------------------------

    def stop(self, reason: str, *, now: bool) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
        if now:
            self._finished.set()
        self.notify()

    def check_finished(self) -> None:
        active = self._active()
        submitting = self._stop_reason is None and any(self._queues.values())
        if not active or not (submitting or any(worker.busy for worker in active)):
            self._finished.set()

    def notify(self) -> None:
        self.wake()
        self.check_finished()

    def wake(self) -> None:
        """Wake every waiter (each waits on the event current when it started waiting)."""
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for_change(self, delay: float | None) -> None:
        changed = self._changed
        with anyio.move_on_after(delay):
            await changed.wait()

    def _active(self) -> list[AccountWorker]:
        return [worker for worker in self.workers if worker.error is None]

    def _pooled_quota(self, model: str) -> Quota:
        """A model's quota summed over the run's accounts (what its makespan bound assumes)."""
        quotas = [worker.config.quota(model) for worker in self.workers]
        return Quota(sum(q.submit_rate for q in quotas), sum(q.concurrency for q in quotas))

    def time_left(self, typical_s: float) -> float:
        """Seconds until the slowest model is through its waiting and held tasks, each taking
        `typical_s` (models run side by side; a model's accounts share its queue)."""
        active = self._active()
        left = 0.0
        for model, queue in self._queues.items():
            lanes = [worker.lanes.by_model(model) for worker in active]
            slots = sum(lane.quota.concurrency for lane in lanes)
            work = len(queue) + sum(lane.slots.unsettled for lane in lanes)
            left = max(left, work * typical_s / slots) if slots else left
        return left

    async def _wall_time_guard(self, seconds: float) -> None:
        await anyio.sleep(seconds)
        log.warning("The run reached its wall-time limit; in-flight tasks stay in the journal.")
        self.stop("max-wall-time", now=True)


def _first_leaf(error: BaseException) -> BaseException:
    """The first exception of a (nested) exception group: the one worth showing."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
