"""What the poller knows of each task in flight, and what follows from it for each model.

A task's watch holds when its create was sent, when we believe it started, whether a list
call has seen it end (its place on the server is free before its own GET says how it ended),
and the version of its next look in the poll heap. Per model:

- *in flight*: watched tasks that still hold a place on the server: queued, being
  dispatched (PENDING in a free slot) or running;
- *backlogged*: more of them in flight than the model's concurrency quota, so one waits
  queued on the server, ready to take the next freed slot (queue-ahead): a late look then
  idles nothing. Without a backlog a finished task's slot idles until we see it end, and
  a task PENDING in a free slot is only being dispatched, not queued.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from runner.engine.polling.estimates import Shape

__all__ = ["Watch", "Watches"]


@dataclass(slots=True)
class Watch:
    task: str
    shape: Shape
    order: int  #: submission order, for "the oldest queued task starts next"
    sent_local: float | None  #: when we sent its create (None: submitted by an earlier process)
    started_local: float | None = None  #: our estimate of when it started running
    paired: bool = False  #: its submit_time has fed the clock map
    watched_local: float = 0.0
    errors: int = 0
    version: int = 0
    confirm: bool = False  #: its next look must be its own GET (a sweep saw it change)
    left: bool = False  #: a list call saw it end: its place on the server is free

    @property
    def model(self) -> str:
        return self.shape[0]

    @property
    def since(self) -> float:
        """When it was sent, or else first watched (local): the age its early looks grow with."""
        return self.sent_local if self.sent_local is not None else self.watched_local


class Watches:
    """The watched tasks by id, and the per-model counts the poll timing depends on."""

    def __init__(self, concurrency: Callable[[str], int]) -> None:
        """`concurrency`: a model's concurrency quota."""
        self._concurrency = concurrency
        self._by_task: dict[str, Watch] = {}

    def __len__(self) -> int:
        return len(self._by_task)

    def __iter__(self) -> Iterator[Watch]:
        return iter(list(self._by_task.values()))

    def add(self, watch: Watch) -> None:
        self._by_task[watch.task] = watch

    def get(self, task: str) -> Watch | None:
        return self._by_task.get(task)

    def pop(self, task: str) -> None:
        self._by_task.pop(task, None)

    def in_flight(self, model: str) -> list[Watch]:
        """The model's tasks that still hold a place on the server, oldest first."""
        return [w for w in self._by_task.values() if w.model == model and not w.left]

    def has_room(self, model: str) -> bool:
        """Whether a task sent now finds a free slot on the server (nothing queued ahead of it)."""
        return len(self.in_flight(model)) < self._concurrency(model)

    def backlogged(self, model: str) -> bool:
        """Whether a task of `model` waits queued on the server, ready to take a freed slot."""
        return len(self.in_flight(model)) > self._concurrency(model)

    def successor(self, ending: Watch) -> Watch | None:
        """The task that takes the slot `ending` frees (while `ending` is still counted in flight):
        the oldest one not started, if one waits queued on the server."""
        if not self.backlogged(ending.model):
            return None
        queued = [w for w in self.in_flight(ending.model) if w.started_local is None and w is not ending]
        return min(queued, key=lambda w: w.order, default=None)
