"""How close a run came to the best makespan the quota allows (docs/performance.md).

`LB = max(W/C + (C-B)^2/(2RC), max_j [s(N-j+1) + T_(j)])` with W the summed generation
times, C the concurrency, R the submit rate, B the burst, `s(k) = max(0, (k-B)/R)` the
earliest k-th submission and `T_(j)` the j-th shortest generation time. Efficiency is
LB / observed makespan. Generation times come from the server's own scheduled/end times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = ["efficiency", "makespan_lower_bound", "server_seconds"]


def makespan_lower_bound(
    durations: Sequence[float], concurrency: int, rate: float, burst: float = 1.0
) -> float:
    """No schedule of these tasks under these limits finishes sooner than this."""
    if not durations:
        return 0.0
    times = sorted(durations)
    count = len(times)
    work = sum(times) / concurrency
    if concurrency > burst:
        work += (concurrency - burst) ** 2 / (2 * rate * concurrency)
    release = max(max(0.0, (count - j + 1 - burst) / rate) + times[j - 1] for j in range(1, count + 1))
    return max(work, release)


def efficiency(lower_bound: float, makespan: float) -> float | None:
    """LB / makespan, or None when the run was too short to say."""
    if makespan <= 0 or lower_bound <= 0:
        return None
    return min(1.0, lower_bound / makespan)


def server_seconds(stamp: str | None) -> float | None:
    """A server time string ("YYYY-MM-DD HH:MM:SS.mmm", zone unknown) as comparable seconds."""
    if not stamp:
        return None
    try:  # fromisoformat, not strptime: several times faster, and polls parse many stamps
        return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
