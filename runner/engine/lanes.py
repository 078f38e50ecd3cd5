"""Submission lanes: one per model, because DashScope's quotas are per model.

The submission rate and the concurrent tasks are counted independently for each model
(docs/dashscope-api.md, quotas), so each model's tasks are submitted in a lane of their
own: its submit queue, its pacer (halved on a 429 and regrown) and its slots. A manifest
that compares a 5/s·5 model with a 2/s·2 one keeps both quotas busy. The task-endpoint
budget, the poller, the download pool and what queue-ahead learned (whether the server
refuses tasks beyond a quota: one fact about the server) are the account's; a model's
queue may be shared by several accounts' lanes (runner.engine.account).

- `Slots`: a lane's in-flight budget. A slot is held from a task's submit intent until the
  server reports it terminal; the costs held tasks could reach count against `--max-cost`
  before they are spent.
- `QueueAhead`: opt-in tasks sent beyond the concurrency quota (`--queue-ahead N`), so the
  server always has the next one queued; the first one it refuses with a 429 turns it off.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Final

from runner.core import Endpoint, TaskSpec, reserved_cost
from runner.engine.config import EngineConfig
from runner.engine.ratelimit import Aimd, Clock, Pacer
from runner.engine.submission import SubmitQueue
from runner.planning import Quota

__all__ = ["Lane", "Lanes", "QueueAhead", "Slots"]

_AIMD_RECOVERY_S: Final = 20.0  # server seconds from a cut rate back to the quota


class Lane:
    """One model's submissions: what waits, how fast it may go, what it holds."""

    def __init__(
        self,
        model: str,
        config: EngineConfig,
        clock: Clock,
        endpoint: Endpoint,
        queue_ahead: QueueAhead,
        queue: SubmitQueue | None = None,
    ) -> None:
        """`queue`: the model's tasks waiting to be sent, shared by every account's lane of it."""
        self.model = model
        self.quota: Quota = config.quota(model)
        scale = config.time_scale
        rate = self.quota.submit_rate / scale
        aimd = Aimd(rate, recovery_s=_AIMD_RECOVERY_S * scale, cooldown_s=scale)
        self.pacer = Pacer(rate, clock=clock, aimd=aimd)
        self.slots = Slots(
            self.quota.concurrency, queue_ahead, endpoint, max_posts=config.max_posts_in_flight
        )
        self.queue = queue if queue is not None else SubmitQueue()


class Lanes:
    """The run's lanes by model, and the task → model map that routes every task to its lane."""

    def __init__(
        self,
        models: Mapping[str, str],
        config: EngineConfig,
        clock: Clock,
        endpoint: Endpoint,
        queues: Mapping[str, SubmitQueue] | None = None,
    ) -> None:
        """`models`: every journalled task's model, by task; `queues`: each model's waiting
        tasks when several accounts' lanes share them (default: queues of their own)."""
        self._model_of = dict(models)
        self._endpoint = endpoint
        self.queue_ahead = QueueAhead(config.queue_ahead, clock=clock, time_scale=config.time_scale)
        names = sorted(set(self._model_of.values()))
        shared = queues or {}
        self._lanes = {
            name: Lane(name, config, clock, endpoint, self.queue_ahead, shared.get(name)) for name in names
        }

    def __iter__(self) -> Iterator[Lane]:
        return iter(self._lanes.values())

    def of(self, task: str) -> Lane:
        """The lane of `task`'s model."""
        return self._lanes[self._model_of[task]]

    def by_model(self, model: str) -> Lane:
        return self._lanes[model]

    @property
    def held(self) -> int:
        return sum(lane.slots.held for lane in self)

    @property
    def capacity(self) -> int:
        return sum(lane.slots.capacity for lane in self)

    @property
    def posting(self) -> int:
        return sum(lane.slots.posting for lane in self)

    @property
    def unsettled(self) -> int:
        return sum(lane.slots.unsettled for lane in self)

    @property
    def reserved(self) -> float:
        """What every held task could still cost if they all succeed."""
        return sum(lane.slots.reserved for lane in self)

    @property
    def submit_rate(self) -> float:
        """Submissions per real second allowed now, over all lanes."""
        return sum(lane.pacer.rate for lane in self)


log = logging.getLogger(__name__)

_RETRY_S: Final = 60.0  #: server seconds before queue-ahead is tried again


class QueueAhead:
    """How many tasks may be sent beyond the concurrency quota, learned from the server's 429s."""

    def __init__(self, configured: int, *, clock: Clock, time_scale: float = 1.0) -> None:
        self.current = configured  #: 0 once the server refused a task beyond the quota
        self._configured = configured
        self._clock = clock
        self._time_scale = time_scale
        self._refusals = 0
        self._retry_at: float | None = None

    def allowed(self) -> int:
        """The current queue-ahead, restored first if its retry is due."""
        if self._retry_at is not None and self._clock.now() >= self._retry_at:
            self._retry_at = None
            self.current = self._configured
        return self.current

    def throttled(self, beyond: bool) -> None:
        """A create answered 429; `beyond`: the task was beyond the concurrency quota."""
        if beyond and self.current > 0:
            self._refused()
        elif not beyond and self._refusals == 1 and self._retry_at is None:
            # rate throttling is in play: it may explain the one surplus 429, so try again later
            self._retry_at = self._clock.now() + _RETRY_S * self._time_scale

    def _refused(self) -> None:
        self._refusals += 1
        self.current = 0
        self._retry_at = None
        if self._refusals == 1:
            log.warning(
                "A submission beyond the concurrency quota got HTTP 429: DashScope seems to refuse "
                "tasks beyond the quota, so queue-ahead is off for this run. Leave --queue-ahead "
                "(and the manifest's queue_ahead) at 0 for this account to avoid that 429."
            )
        else:
            log.warning(
                "DashScope refuses tasks beyond the concurrency quota; queue-ahead is off for this run."
            )


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
