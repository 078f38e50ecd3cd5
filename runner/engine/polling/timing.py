"""When to look at an in-flight task next: the poll scheduler's timing policy.

Intervals derive from the generation times of finished tasks of the same shape (model,
resolution, duration), in server seconds, converted to our monotonic clock through the
ClockMap, so the same policy serves DashScope (minutes) and a compressed simulator.

- Backlog (a task of the model waits queued on the server, ready to take a freed slot):
  first look at the 30th percentile, then every 25 % of the median, with jitter; late
  looks cost nothing, the queued task already runs.
- No backlog (the server refuses surplus, or the batch is in its tail): a finished task's
  slot stays idle until we notice, so look at the shortest time seen, every 4 % of the
  median until the 5th percentile and every 1.5 % after it, and at least every 0.3 server
  seconds for short tasks. Looks spaced as 1/sqrt(hazard) idle a slot least for a given
  number of looks; for log-normal times that is close to these two steps, so the fractions
  only choose the trade (computed for σ 0.35: 8 % and 2 % leave a slot idle 1.45 s per task
  end for 27 looks a task; 4 % and 1.5 %, 1.0 s for 37). Looks are cheap: with two or more
  tasks in flight one list call is the look for all of them, so a look every 0.3 s costs
  about 3 requests a second for the model whatever its quota, and idles a slot about 0.15 s
  per task end (a look every second, as before, idled it half a second).
- Queued (PENDING): every 40 % of the median.
- Discovery (no task of the model has finished yet, so every quantile above would be the
  catalogue's guess): look 1 server second after the create, then every 5 % of the time
  elapsed and at least every 0.3 s, never later than the guess would. A wrong guess (tasks
  far shorter than the catalogue's typical time) then idles a slot about 2.5 % of the first
  task's time, not until the guess's first look; long tasks are looked at more rarely.
- Clock not calibrated yet (a simulator of unknown time scale): geometric intervals in
  local seconds, which suit any scale, at most half a second apart (at real speed, the
  same few hundred milliseconds as the tight schedule).
"""

from __future__ import annotations

import random
from typing import Final

from runner.core import estimate_generation_s, get_model
from runner.engine.polling.estimates import ClockMap, Durations, Shape

__all__ = ["FLOOR_S", "PollTiming"]

FLOOR_S: Final = 0.05  #: never poll one task more often than this (local seconds) at real speed
_FLOOR_SERVER_S: Final = 0.5  #: the same floor in server seconds, for a compressed simulator
_FLOOR_MIN_LOCAL_S: Final = 0.002  #: ... but never below this (CPU)
_FIRST_QUANTILE: Final = 0.3
_RUNNING_FRACTION: Final = 0.25
_TIGHT_FIRST_QUANTILE: Final = 0.0  #: no server-side backlog: a late look idles a slot
_TIGHT_EARLY_QUANTILE: Final = 0.05  #: ... and until this quantile few tasks end
_TIGHT_EARLY_FRACTION: Final = 0.04
_TIGHT_FRACTION: Final = 0.015
_TIGHT_MIN_S: Final = 0.3  #: server seconds: one list call every 0.3 s is ~3 requests/s
_PENDING_FRACTION: Final = 0.4
_RUNNING_CAP_S: Final = 15.0  #: server seconds
_PENDING_CAP_S: Final = 30.0
_DISCOVERY_FIRST_S: Final = 1.0  #: server seconds after the create
_DISCOVERY_GROWTH: Final = 0.05  #: discovery intervals: this fraction of the time elapsed
_GROWTH: Final = 0.5  #: uncalibrated intervals: this fraction of the time elapsed ...
_UNCALIBRATED_MAX_S: Final = 0.5  #: ... and at most this (local seconds)
_UNKNOWN_MODEL_S: Final = 120.0


class PollTiming:
    """Poll delays from what the run has learned: the server's clock and task durations."""

    def __init__(self, clock_map: ClockMap, durations: Durations, rng: random.Random) -> None:
        self.clock_map = clock_map
        self.durations = durations
        self._random = rng

    def quantile(self, shape: Shape, q: float) -> float:
        """A duration quantile in server seconds (the catalogue's estimate before any data)."""
        value = self.durations.quantile(shape, q)
        if value is not None:
            return value
        model = get_model(shape[0])
        typical = estimate_generation_s(model, shape[1], shape[2]) if model else _UNKNOWN_MODEL_S
        return typical * (0.5 if q < 0.5 else 1.0)

    def discovering(self, shape: Shape) -> bool:
        """No task of this shape's model has finished: durations are the catalogue's guess."""
        return self.durations.quantile(shape, 0.5) is None

    def first_look(self, shape: Shape, *, backlogged: bool) -> float:
        """Local seconds after a task starts running before its first poll."""
        if self.discovering(shape):
            return self.local(_DISCOVERY_FIRST_S)
        return self.local(self.quantile(shape, _FIRST_QUANTILE if backlogged else _TIGHT_FIRST_QUANTILE))

    def successor_first_look(self, shape: Shape) -> float:
        """Local seconds after a queued task took a freed slot before its first poll."""
        return self.local(self.quantile(shape, _FIRST_QUANTILE))

    def running_interval(
        self, shape: Shape, running_s: float = 0.0, *, backlogged: bool, jitter: float | None = None
    ) -> float:
        """`running_s`: server seconds the task has been running (for the tight schedule);
        `jitter`: the factor to spread looks by (default: a fresh draw)."""
        median = self.quantile(shape, 0.5)
        if backlogged:
            fraction = _RUNNING_FRACTION
        elif running_s < self.quantile(shape, _TIGHT_EARLY_QUANTILE):
            fraction = _TIGHT_EARLY_FRACTION
        else:
            fraction = _TIGHT_FRACTION
        interval = self.local(min(_RUNNING_CAP_S, max(_TIGHT_MIN_S, fraction * median)))
        return max(self.floor(), interval * (self.jitter() if jitter is None else jitter))

    def jitter(self) -> float:
        """A factor that spreads looks scheduled at once (±20 %)."""
        return self._random.uniform(0.8, 1.2)

    def pending_interval(self, shape: Shape) -> float:
        median = self.quantile(shape, 0.5)
        interval = self.local(min(_PENDING_CAP_S, _PENDING_FRACTION * median))
        return max(self.floor(), interval * self.jitter())

    def cap(self, shape: Shape, due: float, *, now: float, since: float) -> float:
        """`due` brought forward while the policy knows too little to trust it: geometric
        intervals (`since`: when the task was sent or first watched) until it does."""
        elapsed = max(0.0, now - since)
        if not self.clock_map.calibrated:
            return min(due, now + min(_UNCALIBRATED_MAX_S, max(self.floor(), _GROWTH * elapsed)))
        if self.discovering(shape):
            earliest = since + self.local(_DISCOVERY_FIRST_S)
            step = max(self.local(_TIGHT_MIN_S), _DISCOVERY_GROWTH * elapsed)
            return min(due, max(earliest, now + step))
        return due

    def typical_local(self, shapes: set[Shape]) -> float | None:
        """The mean median generation time of these shapes, in local seconds (for ETAs)."""
        values = [self.durations.quantile(shape, 0.5) for shape in shapes]
        known = [v for v in values if v is not None]
        return self.local(sum(known) / len(known)) if known else None

    def floor(self) -> float:
        """The shortest gap between two polls of one task, in local seconds: 0.05 s at real
        speed, and as many server seconds on a compressed simulator, not fifty times more."""
        return min(FLOOR_S, max(_FLOOR_MIN_LOCAL_S, self.local(_FLOOR_SERVER_S)))

    def local(self, server_s: float) -> float:
        return server_s / self.clock_map.slope

    def backoff(self, errors: int, base_s: float, cap_s: float) -> float:
        """A full-jitter delay (local seconds) after `errors` failed polls in a row."""
        ceiling = min(self.local(cap_s), self.local(base_s) * 2**errors)
        floor = self.floor()
        return self._random.uniform(floor, max(floor, ceiling))
