"""Submission lanes: one per model, because DashScope's quotas are per model.

The submission rate and the concurrent tasks are counted independently for each model
(reference §6.1), so each model's tasks are submitted in a lane of their own: its submit
queue, its pacer (halved on a 429 and regrown) and its slots. A manifest that compares a
5/s·5 model with a 2/s·2 one keeps both quotas busy. The task-endpoint budget, the poller,
the download pool, `--max-cost` and what queue-ahead learned (whether the server refuses
tasks beyond a quota: one fact about the server) stay shared by the whole run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from runner.catalog import Endpoint
from runner.costs import reserved_cost
from runner.engineconfig import EngineConfig, Quota
from runner.queueahead import QueueAhead
from runner.ratelimit import Aimd, Clock, Pacer
from runner.slots import Slots
from runner.submission import SubmitQueue
from runner.tasks import TaskSpec

__all__ = ["Lane", "Lanes"]

_AIMD_RECOVERY_S: Final = 20.0  # server seconds from a cut rate back to the quota


class Lane:
    """One model's submissions: what waits, how fast it may go, what it holds."""

    def __init__(
        self, model: str, config: EngineConfig, clock: Clock, endpoint: Endpoint, queue_ahead: QueueAhead
    ) -> None:
        self.model = model
        self.quota: Quota = config.quota(model)
        scale = config.time_scale
        rate = self.quota.submit_rate / scale
        aimd = Aimd(rate, recovery_s=_AIMD_RECOVERY_S * scale, cooldown_s=scale)
        self.pacer = Pacer(rate, clock=clock, aimd=aimd)
        self.slots = Slots(
            self.quota.concurrency, queue_ahead, endpoint, max_posts=config.max_posts_in_flight
        )
        self.queue = SubmitQueue()


class Lanes:
    """The run's lanes by model, and the task → model map that routes every task to its lane."""

    def __init__(
        self, models: Mapping[str, str], config: EngineConfig, clock: Clock, endpoint: Endpoint
    ) -> None:
        """`models`: every journalled task's model, by task."""
        self._model_of = dict(models)
        self._endpoint = endpoint
        self.queue_ahead = QueueAhead(config.queue_ahead, clock=clock, time_scale=config.time_scale)
        names = sorted(set(self._model_of.values()))
        self._lanes = {name: Lane(name, config, clock, endpoint, self.queue_ahead) for name in names}

    def __iter__(self) -> Iterator[Lane]:
        return iter(self._lanes.values())

    def of(self, task: str) -> Lane:
        """The lane of `task`'s model."""
        return self._lanes[self._model_of[task]]

    @property
    def waiting(self) -> bool:
        """Whether any task waits to be submitted."""
        return any(lane.queue for lane in self)

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

    def over_budget(self, spec: TaskSpec, *, spent: float, limit: float) -> bool:
        """Whether holding one more task could take the run's cost past `limit`."""
        return spent + self.reserved + reserved_cost(spec, self._endpoint) > limit + 1e-9

    def time_left(self, typical_s: float) -> float:
        """Seconds until the slowest lane is through its waiting and held tasks, each taking
        `typical_s` (the lanes run side by side)."""
        return max(
            ((len(lane.queue) + lane.slots.unsettled) * typical_s / lane.quota.concurrency for lane in self),
            default=0.0,
        )

    @property
    def submit_rate(self) -> float:
        """Submissions per real second allowed now, over all lanes."""
        return sum(lane.pacer.rate for lane in self)
