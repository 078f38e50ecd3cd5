"""Queue-ahead: tasks sent beyond the concurrency quota, so the server always has the next
one queued and no slot idles while we notice that a task finished.

It is opt-in (`--queue-ahead N`, or `queue_ahead:` in the manifest's limits; default 0).
Whether the server queues such tasks or refuses them (429) is not documented for Wan models
(reference §6.1), and the reference says exceeding the concurrency limit "triggers
throttling", so by default the engine never sends a task beyond the quota. When opted in,
the first refused task beyond the quota turns queue-ahead off, and it is tried once more
only if a task within the quota is throttled too (then rate throttling may explain that 429).
"""

from __future__ import annotations

import logging
from typing import Final

from runner.ratelimit import Clock

__all__ = ["QueueAhead"]

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
