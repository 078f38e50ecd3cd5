"""When a run reconciles its ambiguous creates, and what it does with the answer.

runner.reconcile matches AMBIGUOUS journal rows against the account's task list; this
module runs those passes within a run: once at startup, a little after a create's answer
was lost (the list needs a moment to show a new task), again while the list cannot be
read, and never while a create is in flight, because the task that create makes is in no
journal row yet and would pass for the lost one. Submissions wait while a pass runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

import anyio
from anyio.abc import TaskGroup

from runner.errors import AccountError
from runner.polling import Poller
from runner.reconcile import Reconciliation, reconcile
from runner.runstats import RunStats
from runner.store import Store
from runner.tasks import TaskState

__all__ = ["ReconcileListener", "Reconciler"]

_DELAY_S: Final = 2.0  # server seconds: let the task list catch up with the create


class ReconcileListener(Protocol):
    """What the engine does around a reconciliation pass."""

    async def creates_settled(self) -> None:
        """Return once no create is in flight."""

    def resubmit(self, task: str) -> None:
        """The ambiguous create never reached the server: free the task's slot, plan it again."""

    def account_failed(self, error: AccountError) -> None: ...

    def reconciled(self) -> None:
        """A pass ended (or gave up): submissions may go on."""


class Reconciler:
    """Runs reconciliation passes and keeps what they need: the task ids the run has seen and
    the instants its creates were sent."""

    def __init__(
        self,
        store: Store,
        poller: Poller,
        stats: RunStats,
        listener: ReconcileListener,
        *,
        local_of: Callable[[float | None], float | None],
        time_scale: float = 1.0,
    ) -> None:
        """`local_of`: a journalled wall-clock instant on the run's monotonic clock."""
        self.running = False  #: a pass is on: no create may start
        self._store = store
        self._poller = poller
        self._stats = stats
        self._listener = listener
        self._local_of = local_of
        self._delay_s = max(0.05, _DELAY_S * time_scale)
        self._scheduled = False
        self._intents_local: dict[str, float] = {}
        self._known: set[str] = set()

    def load_known(self) -> None:
        """Learn every task id the journal has recorded (at startup)."""
        self._known = self._store.task_ids()

    def sent(self, task: str, sent_local: float) -> None:
        """A create was sent: its instant narrows the list's window if its answer is lost."""
        self._intents_local[task] = sent_local

    def created(self, task_id: str) -> None:
        """A create was accepted: its task is ours, not a candidate for an ambiguous row."""
        self._known.add(task_id)

    def schedule(self, group: TaskGroup) -> None:
        """Run a pass a little later (once, however many answers are lost meanwhile)."""
        if not self._scheduled:
            self._scheduled = True
            group.start_soon(self._later, group)

    async def _later(self, group: TaskGroup) -> None:
        await anyio.sleep(self._delay_s)
        self._scheduled = False
        await self.run_pass(group)

    async def run_pass(self, group: TaskGroup) -> None:
        """Settle ambiguous submissions while no create is in flight (its task would look foreign)."""
        store = self._store
        if not store.counts().get(TaskState.AMBIGUOUS):
            return
        self.running = True
        try:
            await self._listener.creates_settled()
            result = await reconcile(
                store,
                self._poller,
                intents_local=self._intents_local,
                clock_map=self._poller.clock_map,
                known=self._known,
            )
            self._settle(result, group)
        except AccountError as error:
            self._listener.account_failed(error)
        finally:
            self.running = False
            self._listener.reconciled()

    def _settle(self, result: Reconciliation, group: TaskGroup) -> None:
        """Watch the adopted tasks, plan the never-created ones again, retry the rest later."""
        for task in result.adopted:
            self._stats.reconciled += 1
            sent = self._intents_local.get(task) or self._local_of(self._store.record(task).submitted_at)
            self._poller.watch(task, self._store.spec(task), sent_local=sent, fresh=False)
        for task in result.not_found:
            self._stats.resubmitted_after_ambiguity += 1
            self._listener.resubmit(task)
        if result.postponed:
            self.schedule(group)
