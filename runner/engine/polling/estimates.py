"""What the runner learns while it runs: the server's clock and how long tasks take.

`ClockMap` fits server time (the naive "YYYY-MM-DD HH:MM:SS.mmm" stamps, as seconds) to
our monotonic clock from pairs (when we sent a create, the submit_time the server gave
it). Its slope is 1 against DashScope and 1/time_scale against a compressed simulator,
so every interval derived from server durations is right in both worlds.

`Durations` keeps the generation times (server end - scheduled) of finished tasks per
shape (model, resolution, duration), for the poll scheduler's quantiles.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Final

__all__ = ["ClockMap", "Durations", "Shape"]

Shape = tuple[str, str, int]  #: (model, resolution, duration)

_MIN_PAIRS: Final = 3
_WINDOW: Final = 200


class ClockMap:
    """A linear map server seconds = offset + slope × local seconds, fitted by least squares."""

    def __init__(self, prior_slope: float = 1.0, *, fit_slope: bool = False, min_spread: float = 1.0) -> None:
        """`fit_slope`: learn the slope (a simulator of unknown time scale); else keep the prior."""
        self._prior = prior_slope
        self._fit_slope = fit_slope
        self._min_spread = min_spread  # local seconds of spread before a fitted slope is trusted
        self._pairs: deque[tuple[float, float]] = deque(maxlen=_WINDOW)
        self._fit: tuple[float, float] | None = None  # (slope, offset)
        self._map: tuple[float, float] | None = None  # (slope, offset) in use: polls read it often

    @property
    def calibrated(self) -> bool:
        """Whether the slope can be trusted: fixed by the caller, or fitted from enough pairs."""
        return not self._fit_slope or self._fit is not None

    @property
    def slope(self) -> float:
        """Server seconds per local second."""
        return self._fit[0] if self._fit else self._prior

    def add(self, local: float, server: float) -> None:
        """One observation: the server's clock read `server` at our local instant `local`."""
        self._pairs.append((local, server))
        self._refit()
        self._map = self._fit or (self.slope, self._offset(self.slope))

    def to_local(self, server: float) -> float | None:
        """Our local instant for a server time, or None before any observation."""
        if self._map is None:
            return None
        slope, offset = self._map
        return (server - offset) / slope

    def to_server(self, local: float) -> float | None:
        """The server time at a local instant, or None before any observation."""
        if self._map is None:
            return None
        slope, offset = self._map
        return offset + slope * local

    def _offset(self, slope: float) -> float:
        """Offset for a given slope: the server is never earlier than our send (latency >= 0)."""
        return min(server - slope * local for local, server in self._pairs)

    def _refit(self) -> None:
        pairs = self._pairs
        if not self._fit_slope or len(pairs) < _MIN_PAIRS:
            return
        xs = [p[0] for p in pairs]
        spread = max(xs) - min(xs)
        if spread <= 0 or spread < self._min_spread:
            return
        mean_x = sum(xs) / len(xs)
        mean_y = sum(p[1] for p in pairs) / len(pairs)
        sxx = sum((x - mean_x) ** 2 for x in xs)
        sxy = sum((x - mean_x) * (y - mean_y) for x, y in pairs)
        slope = sxy / sxx
        if slope <= 0:
            return
        self._fit = (slope, self._offset(slope))


class Durations:
    """Observed generation times (server seconds) per task shape, most recent kept."""

    def __init__(self) -> None:
        self._by_shape: defaultdict[Shape, deque[float]] = defaultdict(lambda: deque(maxlen=_WINDOW))
        self._sorted: dict[Shape, list[float]] = {}

    def add(self, shape: Shape, seconds: float) -> None:
        if seconds <= 0:
            return
        self._by_shape[shape].append(seconds)
        self._sorted.pop(shape, None)

    def count(self, shape: Shape) -> int:
        return len(self._by_shape.get(shape, ()))

    def quantile(self, shape: Shape, q: float) -> float | None:
        """The q-quantile of this shape's durations; other shapes scaled by video length if none."""
        values = self._values(shape)
        if values:
            return _quantile(values, q)
        scaled = [
            _quantile(self._values(other), q) * shape[2] / max(1, other[2])
            for other in self._by_shape
            if other[0] == shape[0] and self._by_shape[other]
        ]
        return sum(scaled) / len(scaled) if scaled else None

    def _values(self, shape: Shape) -> list[float]:
        if shape not in self._by_shape or not self._by_shape[shape]:
            return []
        if shape not in self._sorted:
            self._sorted[shape] = sorted(self._by_shape[shape])
        return self._sorted[shape]


def _quantile(values: list[float], q: float) -> float:
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]
