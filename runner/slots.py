"""The in-flight budget of one model's lane: how many tasks it may hold, what they could cost.

A slot is held from a task's submit intent until the server reports it terminal (or its
create was refused). A task whose end a list call has seen leaves the server's concurrency
at once (`vacate`), while its cost stays reserved until its own query has journalled it.
The capacity is the concurrency quota plus the opt-in queue-ahead (runner.queueahead).
The costs reserved by held tasks count against `--max-cost` before they are spent (summed
over the lanes, runner.lanes), so a run never submits what it could not pay for if every
task succeeds.
"""

from __future__ import annotations

from runner.catalog import Endpoint
from runner.costs import reserved_cost
from runner.queueahead import QueueAhead
from runner.tasks import TaskSpec

__all__ = ["Slots"]


class Slots:
    """Held slots, creates in flight and the costs the held tasks reserve."""

    def __init__(
        self, concurrency: int, queue_ahead: QueueAhead, endpoint: Endpoint, *, max_posts: int
    ) -> None:
        """`endpoint`: its prices give what a held task reserves."""
        self.concurrency = concurrency
        self._occupying: set[str] = set()  # held tasks that may still take a place on the server
        self.posting = 0  #: creates in flight (bounds what a crash can leave ambiguous)
        self._queue_ahead = queue_ahead
        self._endpoint = endpoint
        self._max_posts = max_posts
        self._surplus_posting = 0  # creates in flight for tasks beyond the concurrency quota
        self._reserved: dict[str, float] = {}

    @property
    def held(self) -> int:
        """Tasks that may still take a place on the server (queued or running)."""
        return len(self._occupying)

    @property
    def unsettled(self) -> int:
        """Held tasks whose end the journal does not have yet (vacated ones included)."""
        return len(self._reserved)

    @property
    def capacity(self) -> int:
        """The concurrency quota plus the current queue-ahead."""
        return self.concurrency + self._queue_ahead.allowed()

    @property
    def reserved(self) -> float:
        """What the held tasks could still cost if they all succeed."""
        return sum(self._reserved.values())

    def beyond_quota(self) -> bool:
        """Whether the next task would run beyond the concurrency quota (queue-ahead)."""
        return self.held >= self.concurrency

    def blocked(self) -> bool:
        """No free slot, too many creates in flight, or a task beyond the quota already being
        sent (one at a time: a server that refuses surplus answers each with a 429)."""
        if self.held >= self.capacity or self.posting >= self._max_posts:
            return True
        return self.beyond_quota() and self._surplus_posting > 0

    def hold(self, task: str, spec: TaskSpec) -> None:
        self._occupying.add(task)
        self._reserved[task] = reserved_cost(spec, self._endpoint)

    def vacate(self, task: str) -> None:
        """The task has left the server (ended); its reserved cost stays until `release`."""
        self._occupying.discard(task)

    def release(self, task: str) -> None:
        """Free the task's slot; the engine wakes its waiters once its own bookkeeping is done."""
        self._occupying.discard(task)
        self._reserved.pop(task, None)

    def posting_started(self, beyond: bool) -> None:
        self.posting += 1
        self._surplus_posting += beyond

    def posting_ended(self, beyond: bool) -> None:
        self.posting -= 1
        self._surplus_posting -= beyond
