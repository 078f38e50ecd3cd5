"""When a run reconciles its ambiguous creates, and what it does with the verdicts.

runner.engine.reconciliation.evidence weighs the evidence; this module gathers it within a run:

- A first look at an ambiguous row lists its model's tasks on the account (the server's
  last 24 h), a little after its answer was lost (the list needs a moment to show a new
  task) and while no create is in flight (the task that create makes is in no journal row
  yet and would pass for the lost one); submissions wait while it runs. The tasks it finds
  in the row's window are the row's candidates from then on: a task created later cannot be
  one whose create had already ended.
- While a candidate has no echo yet, its own GET is repeated at growing intervals, up to the
  run's bound; the row holds its slot meanwhile, since its task may be running.
- A verdict adopts the task (polled from then on like any other), or plans the row again,
  recording the candidates left unclaimed when the evidence could not settle it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

import anyio
from anyio.abc import TaskGroup

from runner.core import AccountError, ApiError, Event, ListRefusedError, TaskState, server_seconds
from runner.engine.lanes import Lanes
from runner.engine.polling.poller import Poller
from runner.engine.rebuild import ORPHAN_CHECK
from runner.engine.reconciliation.evidence import (
    UNLISTED,
    Candidate,
    Claim,
    Decision,
    Echo,
    Verdict,
    claims_of,
    decide,
)
from runner.engine.runstats import RunStats
from runner.journal import Store

__all__ = ["ReconcileListener", "Reconciler"]

log = logging.getLogger(__name__)

_DELAY_S: Final = 2.0  #: server seconds: let the task list catch up with the create
_RECHECK_S: Final = (5.0, 30.0)  #: server seconds between looks at undecided candidates: first, most
_RETRY_S: Final = 10.0  #: server seconds before a pass the server refused is tried again
_LIST_MARGIN_S: Final = 60.0  #: server seconds before the lower bound the list starts from


class ReconcileListener(Protocol):
    """What the engine does around reconciliation."""

    async def creates_settled(self) -> None:
        """Return once no create is in flight."""

    def resubmit(self, task: str) -> None:
        """The row's create is settled as not its own task: free its slot, plan it again."""

    def account_failed(self, error: AccountError) -> None: ...

    def reconciled(self) -> None:
        """A first look ended (or gave up): submissions may go on."""


@dataclass(slots=True)
class _Open:
    """An ambiguous row under reconciliation."""

    claim: Claim
    candidates: list[str]  #: task ids of the first look's tasks in the row's window
    since: float  #: local instant of the first look


class Reconciler:
    """Runs reconciliation passes and keeps what they learned: the task ids the run knows,
    each open row's candidates and what the server has shown of each candidate."""

    def __init__(
        self,
        store: Store,
        poller: Poller,
        stats: RunStats,
        listener: ReconcileListener,
        *,
        time_scale: float = 1.0,
        wait_s: float = 1800.0,
        account: str | None = None,
    ) -> None:
        """`wait_s`: server seconds a row waits for its candidates' echoes before it is settled;
        `account`: the account whose rows this reconciler settles (its poller's key lists its tasks)."""
        self.running = False  #: a first look is on: no create may start
        self._account = account
        self._store = store
        self._poller = poller
        self._stats = stats
        self._listener = listener
        self._scale = time_scale
        self._wait_local = wait_s * time_scale
        self._scheduled = False
        self._rechecks = 0
        self._known_ids: set[str] | None = None  #: read from the journal when first needed
        self._open: dict[str, _Open] = {}
        self._candidates: dict[str, Candidate] = {}
        self._unlistable: set[str] = set()  #: rows whose model's task list the key may not read

    @property
    def waiting(self) -> int:
        """Ambiguous rows whose evidence is still coming."""
        return len(self._open)

    @property
    def _known(self) -> set[str]:
        """Every task id of ours: the journal's, read at the first look that needs them (a run
        with nothing uncertain never reads them: 0.3 s at 100,000 tasks), then kept up to date."""
        if self._known_ids is None:
            self._known_ids = self._store.task_ids()
        return self._known_ids

    def created(self, task_id: str) -> None:
        """A create was accepted: its task is ours, never a candidate for an ambiguous row (the
        journal already holds its id, so before the first read there is nothing to add)."""
        if self._known_ids is not None:
            self._known_ids.add(task_id)

    def schedule(self, group: TaskGroup, delay_s: float = _DELAY_S) -> None:
        """Run a pass `delay_s` server seconds from now (once, however often it is asked)."""
        if not self._scheduled:
            self._scheduled = True
            group.start_soon(self._later, group, delay_s * self._scale)

    async def _later(self, group: TaskGroup, delay: float) -> None:
        await anyio.sleep(delay)
        self._scheduled = False
        await self.run_pass(group)

    async def claim_orphans(self, lanes: Lanes) -> None:
        """First step after a journal was rebuilt (runner.engine.rebuild): tasks the account created
        that no row knows may be the work of the rows that were next in line. Twice as many of
        those rows as there are such tasks, plus a quota's worth, become ambiguous, so a pass
        finds them by their echo before anything is sent (all of them if the list cannot be read)."""
        if self._store.get_meta(ORPHAN_CHECK) != "1":
            return
        for lane in lanes:
            if not lane.queue:
                continue
            try:
                unknown = [
                    t async for t in self._poller.list_tasks(model=lane.model) if t.task_id not in self._known
                ]
                suspects = 2 * len(unknown) + lane.quota.concurrency if unknown else 0
            except ApiError as error:
                log.warning(
                    "The task list cannot be read (%s); the next tasks in line are looked up first.", error
                )
                suspects = 2 * lane.quota.concurrency + 10
            for _ in range(min(suspects, len(lane.queue))):
                task = lane.queue.take(self._poller.clock.now())
                if task is not None:
                    self._store.set_state(
                        task, TaskState.AMBIGUOUS, reason="maybe_sent", account=self._account
                    )
                    lane.slots.hold(task, self._store.spec(task))
        self._store.set_meta(ORPHAN_CHECK, "0")

    async def run_pass(self, group: TaskGroup) -> None:
        """Look at new ambiguous rows, read the candidates' news, settle what the evidence allows."""
        ambiguous = self._store.records([TaskState.AMBIGUOUS])
        rows = [record.id for record in ambiguous if record.account == self._account]
        if not rows:
            return
        try:
            fresh = [task for task in rows if task not in self._open]
            if fresh:
                await self._first_look(fresh)
            await self._read_candidates()
        except AccountError as error:
            self._listener.account_failed(error)
            return
        except ApiError as error:
            log.warning("Reconciliation of %d uncertain submissions postponed: %s", len(rows), error)
            self.schedule(group, _RETRY_S)
            return
        self._settle()
        if self._open:
            self._rechecks += 1
            first, most = _RECHECK_S
            self.schedule(group, min(most, first * 1.5 ** (self._rechecks - 1)))

    async def _first_look(self, tasks: list[str]) -> None:
        """List each model's tasks and open the rows' claims (submissions wait meanwhile)."""
        self.running = True
        try:
            await self._listener.creates_settled()
            models = self._store.models()
            by_model: defaultdict[str, list[str]] = defaultdict(list)
            for task in tasks:
                by_model[models[task]].append(task)
            for model, group in by_model.items():
                filters = {"model": model, **self._since(group)}
                try:
                    listed = [task async for task in self._poller.list_tasks(**filters)]
                except ListRefusedError as error:
                    self._cannot_list(group, error)
                    continue
                foreign = [
                    Candidate.listed(task)
                    for task in listed
                    if task.task_id not in self._known and task.model_name in (None, model)
                ]
                for candidate in foreign:
                    self._candidates.setdefault(candidate.task_id, candidate)
                now = self._poller.clock.now()
                for claim in claims_of(self._store, group, listed):
                    window = [c.task_id for c in foreign if claim.in_window(c) or claim.proven_by(c)]
                    self._open[claim.task] = _Open(claim, window, now)
        finally:
            self.running = False
            self._listener.reconciled()

    def _since(self, tasks: list[str]) -> dict[str, str]:
        """The list's start filter: a minute before the latest create of ours the server had
        answered before the first of these intents (a lower bound on their creation, on the
        server's clock, in the zone the server writes its stamps in), so a long run's first
        look reads a page, not a day of tasks. No filter (the last 24 h) without one."""
        intents = [self._store.last_event_seq(task, Event.SUBMIT_INTENT) or 0 for task in tasks]
        stamp = self._store.latest_submit_before(min(intents), self._account)
        seconds = server_seconds(stamp)
        if seconds is None:
            return {}
        start = datetime.fromtimestamp(seconds - _LIST_MARGIN_S, tz=UTC)
        return {"start": start.strftime("%Y%m%d%H%M%S")}

    def _cannot_list(self, tasks: list[str], error: ListRefusedError) -> None:
        """Without the task list nothing can show whether these creates landed: each row is
        sent again, reported as a possible double charge."""
        log.warning("%s. The uncertain submissions cannot be looked up.", error)
        now = self._poller.clock.now()
        for task in tasks:
            spec = self._store.spec(task)
            self._open[task] = _Open(Claim(task, spec.prompt, spec.duration, spec.resolution), [], now)
            self._unlistable.add(task)

    async def _read_candidates(self) -> None:
        """Each undecided candidate's own GET: its status, and its echo once it SUCCEEDED."""
        wanted = sorted(
            {task_id for row in self._open.values() for task_id in row.candidates}
            - {task_id for task_id, c in self._candidates.items() if not c.undecided}
        )
        for task_id in wanted:
            status = await self._poller.query(task_id)
            candidate = self._candidates[task_id]
            candidate.status = status.status
            if status.status == "SUCCEEDED":
                candidate.echo = Echo.of(status)

    def _settle(self) -> None:
        now = self._poller.clock.now()
        claims = [row.claim for row in self._open.values()]
        over = {task for task, row in self._open.items() if now - row.since >= self._wait_local}
        pools = {task: [self._candidates[i] for i in row.candidates] for task, row in self._open.items()}
        everyone = {c.task_id: c for pool in pools.values() for c in pool}
        for task, decision in decide(claims, everyone.values(), over=over).items():
            if task in self._unlistable:
                decision = Decision(Verdict.UNDECIDABLE)
                self._unlistable.discard(task)
            if decision.verdict is not Verdict.WAIT:
                del self._open[task]
                self._apply(task, decision)

    def _apply(self, task: str, decision: Decision) -> None:
        if decision.verdict is Verdict.ADOPT and decision.task_id is not None:
            self._adopt(task, decision.task_id)
        elif decision.verdict is Verdict.NEVER_CREATED:
            self._store.transition(
                task, Event.NOT_FOUND, detail={"reason": "no task of its window is its own"}
            )
            self._stats.resubmitted_after_ambiguity += 1
            log.warning("Task %r: the uncertain submission never reached DashScope; submitting again.", task)
            self._listener.resubmit(task)
        else:
            self._doubt(task, decision.suspects)

    def _adopt(self, task: str, task_id: str) -> None:
        self._known.add(task_id)
        self._store.transition(task, Event.ADOPTED, task_id=task_id, detail={"task_id": task_id})
        self._stats.reconciled += 1
        log.info("Task %r: the uncertain submission was found on DashScope as %s.", task, task_id)
        self._poller.watch(task, self._store.spec(task), sent_local=None, fresh=False)

    def _doubt(self, task: str, suspects: tuple[str, ...]) -> None:
        """Send the row again, keeping the tasks that may have been its own on record (UNLISTED
        when no listed task can be named)."""
        self._known.update(suspects)
        earlier = self._store.record(task).double_charge_ids or []
        self._store.transition(
            task,
            Event.NOT_FOUND,
            double_charge_ids=[*earlier, *(suspects or (UNLISTED,))],
            detail={"reason": "the evidence could not settle it", "possible_double_charge": list(suspects)},
        )
        self._stats.possible_double_charges += 1
        log.warning(
            "Task %r: the uncertain submission may have created %s, but the evidence cannot tell; "
            "submitting again. If it did, this task is paid twice (reported in the summary and status.csv).",
            task,
            f"DashScope task {' or '.join(suspects)}" if suspects else "a task the list cannot show",
        )
        self._listener.resubmit(task)
