"""Pacing arithmetic (pure) and its anyio waiting wrappers.

- `Gcra`: the generic cell rate algorithm, one timestamp of state: requests at `rate` per
  second, no bursts beyond `burst`. `reserve(now)` says when the caller may go.
- `Aimd`: the submit rate under throttling: halve on a 429 (at most once per cool-down),
  then grow back linearly to the configured ceiling; honours Retry-After as a pause.
- `Pacer`: waits on a Gcra (optionally steered by an Aimd) with an injectable clock.

Everything takes `now` from a monotonic clock, never the wall clock, so NTP steps or a
suspended laptop cannot make the runner burst or stall.
"""

from __future__ import annotations

from typing import Protocol

import anyio

__all__ = ["Aimd", "AnyioClock", "Clock", "Gcra", "Pacer"]


class Clock(Protocol):
    """Monotonic seconds and a way to wait until a given instant."""

    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None: ...


class AnyioClock:
    """The event loop's monotonic clock."""

    def now(self) -> float:
        return anyio.current_time()

    async def sleep_until(self, deadline: float) -> None:
        await anyio.sleep_until(deadline)


class Gcra:
    """Smooth pacing at `rate` per second with at most `burst` requests back to back."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError(f"A rate must be positive, got {rate}.")
        if burst < 1:
            raise ValueError(f"A burst must be at least 1, got {burst}.")
        self._rate = rate
        self._burst = burst
        self._tat: float | None = None  # theoretical arrival time of the next request

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        """Change the rate from now on; reservations already handed out stand."""
        if rate <= 0:
            raise ValueError(f"A rate must be positive, got {rate}.")
        self._rate = rate

    def delay(self, now: float) -> float:
        """Seconds until a request would be allowed, without reserving."""
        return max(0.0, self._allowed_at(now) - now)

    def reserve(self, now: float) -> float:
        """Reserve the next request: the instant (>= now) at which it may be sent."""
        at = self._allowed_at(now)
        interval = 1.0 / self._rate
        self._tat = max(self._tat if self._tat is not None else at, at) + interval
        return at

    def _allowed_at(self, now: float) -> float:
        if self._tat is None:
            return now
        tolerance = (self._burst - 1.0) / self._rate
        return max(now, self._tat - tolerance)


class Aimd:
    """Additive-increase, multiplicative-decrease control of a rate, driven by 429s."""

    def __init__(
        self,
        ceiling: float,
        *,
        decrease: float = 0.5,
        recovery_s: float = 20.0,
        floor_fraction: float = 0.05,
        cooldown_s: float = 1.0,
    ) -> None:
        """`recovery_s`: seconds to grow from the floor back to the ceiling after the last cut."""
        if ceiling <= 0:
            raise ValueError(f"A rate ceiling must be positive, got {ceiling}.")
        self.ceiling = ceiling
        self._decrease = decrease
        self._floor = ceiling * floor_fraction
        self._increase_per_s = (ceiling - self._floor) / recovery_s
        self._cooldown = cooldown_s
        self._base = ceiling  # rate right after the last change
        self._changed_at: float | None = None
        self._paused_until = float("-inf")
        self.throttled = 0  # 429s seen

    def rate(self, now: float) -> float:
        """The allowed rate at `now`: the last cut plus linear regrowth, capped at the ceiling."""
        if self._changed_at is None:
            return self._base
        grown = self._base + self._increase_per_s * max(0.0, now - self._changed_at)
        return min(self.ceiling, grown)

    def paused_until(self) -> float:
        """Instant before which nothing may be sent (a Retry-After in force)."""
        return self._paused_until

    def on_throttled(self, now: float, retry_after: float | None = None) -> None:
        """A 429: cut the rate (once per cool-down: replies to one burst count once), pause."""
        self.throttled += 1
        if retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)
        if self._changed_at is not None and now - self._changed_at < self._cooldown:
            return
        self._base = max(self._floor, self.rate(now) * self._decrease)
        self._changed_at = now


class Pacer:
    """Waits for a Gcra slot; with an Aimd, the rate follows it (submissions)."""

    def __init__(self, rate: float, *, clock: Clock | None = None, aimd: Aimd | None = None) -> None:
        self.clock: Clock = clock or AnyioClock()
        self._gcra = Gcra(rate)
        self.aimd = aimd
        self.sent = 0

    @property
    def rate(self) -> float:
        """The current rate in requests per second."""
        if self.aimd is None:
            return self._gcra.rate
        return self.aimd.rate(self.clock.now())

    async def wait(self) -> None:
        """Return when the next request may go (reserving its slot)."""
        now = self.clock.now()
        if self.aimd is not None:
            self._gcra.set_rate(self.aimd.rate(now))
            now = max(now, self.aimd.paused_until())
        at = self._gcra.reserve(now)
        if at > self.clock.now():
            await self.clock.sleep_until(at)
        self.sent += 1

    def throttled(self, retry_after: float | None = None) -> None:
        """Report a 429 on a request this pacer let through."""
        if self.aimd is not None:
            self.aimd.on_throttled(self.clock.now(), retry_after)
