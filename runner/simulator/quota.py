"""Rate quotas as token buckets over simulated time.

A bucket holds at most `burst` tokens (default: one second worth, i.e. the rate, and
never less than one) and
refills continuously at `rate` per second. A client that sends requests exactly 1/rate
apart always finds a token: the refill between two requests is exactly one token, and
a small tolerance absorbs floating-point error.
"""

from __future__ import annotations

__all__ = ["RateBook", "TokenBucket"]

_TOLERANCE = 1e-9


class TokenBucket:
    """Tokens refilled at `rate` per simulated second, capped at `burst`, initially full."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        # At least one token, or a rate below 1/s could never admit anything.
        self.burst = max(1.0, rate if burst is None else burst)
        self._tokens = self.burst
        self._stamp: float | None = None

    def try_take(self, now: float) -> bool:
        """Take one token at `now` if there is one; False means the request is throttled."""
        if self._stamp is not None:
            elapsed = max(0.0, now - self._stamp)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._stamp = now if self._stamp is None else max(self._stamp, now)
        if self._tokens + _TOLERANCE >= 1.0:
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False


class RateBook:
    """Named buckets created on first use with a per-name rate."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def try_take(self, name: str, rate: float, burst: float | None, now: float) -> bool:
        """Take a token from bucket `name`, creating it with `rate` and `burst` if new."""
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = TokenBucket(rate, burst)
        return bucket.try_take(now)
