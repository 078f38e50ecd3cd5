"""Simulated time: the Clock protocol, a scaled real clock, a manual test clock, formatting.

All simulator state is computed from `clock.now()` (simulated seconds since the app was
created), so a test that advances a `ManualClock` controls every transition exactly.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol

import anyio

__all__ = ["Clock", "LoopClock", "ManualClock", "ScaledClock", "WallTime"]


class Clock(Protocol):
    """Simulated seconds since start, and a way to let simulated time pass."""

    def now(self) -> float:
        """Return simulated seconds since the simulator started."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass (used by slow-response faults)."""
        ...


class ScaledClock:
    """Real monotonic time compressed by `time_scale` (real seconds per simulated second)."""

    def __init__(self, time_scale: float = 1.0, start: float = 0.0) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}.")
        self._scale = time_scale
        self._start = time.monotonic() - start * time_scale

    def now(self) -> float:
        """Return simulated seconds since construction (plus `start`)."""
        return (time.monotonic() - self._start) / self._scale

    async def sleep(self, seconds: float) -> None:
        """Wait the real time that `seconds` of simulated time takes."""
        await anyio.sleep(max(0.0, seconds) * self._scale)


class LoopClock:
    """The event loop's clock compressed by `time_scale`: the simulator and a client in the same
    loop then share one time, so a test on a virtual-time loop controls both at once."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}.")
        self._scale = time_scale
        self._start = anyio.current_time()

    def now(self) -> float:
        """Return simulated seconds since construction."""
        return (anyio.current_time() - self._start) / self._scale

    async def sleep(self, seconds: float) -> None:
        """Wait the loop time that `seconds` of simulated time takes."""
        await anyio.sleep(max(0.0, seconds) * self._scale)


class ManualClock:
    """A clock that moves only when told to: for deterministic tests."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        """Return the current simulated time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by `seconds` (never backward)."""
        if seconds < 0:
            raise ValueError(f"A manual clock cannot go backward (advance by {seconds}).")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        """Advance the clock instead of waiting."""
        self.advance(max(0.0, seconds))


class WallTime:
    """Maps simulated seconds to the wire's time formats, given the unix time of t=0."""

    def __init__(self, epoch: float, utc_offset_hours: float) -> None:
        self.epoch = epoch
        self._zone = timezone(timedelta(hours=utc_offset_hours))

    def unix(self, sim_seconds: float) -> float:
        """Unix time of a simulated instant."""
        return self.epoch + sim_seconds

    def stamp(self, sim_seconds: float) -> str:
        """'YYYY-MM-DD HH:MM:SS.mmm' in the configured zone (UTC+8 like the Beijing service)."""
        moment = datetime.fromtimestamp(self.unix(sim_seconds), tz=self._zone)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"

    def millis(self, sim_seconds: float) -> int:
        """Epoch milliseconds, as the task list reports times."""
        return round(self.unix(sim_seconds) * 1000)

    def parse_compact(self, text: str) -> float:
        """Simulated seconds of a list filter time 'YYYYMMDDhhmmss' in the configured zone."""
        moment = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=self._zone)
        return moment.astimezone(UTC).timestamp() - self.epoch
