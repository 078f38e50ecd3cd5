"""The ledger: what the simulator saw and did, for tests and benchmarks to assert on.

`GET /_sim/ledger` (and `app.state.simulator.ledger()`) returns, times in simulated
seconds since the simulator started (T_i = end_time - scheduled_time):

    {"request_id": "...",              # HTTP only
     "now": 812.4, "epoch": 1764876000.0, "seed": 7, "time_scale": 1.0,
     "submissions": [{"index": 1, "task_id": "...", "model": "wan2.6-i2v-flash",
                      "request_sha256": "<sha256 of the canonical JSON body>", "prompt": "...",
                      "submit_time": 0.0, "dispatch_delay_s": 0.8, "scheduled_time": 1.2,
                      "end_time": 95.0,
                      "status": "SUCCEEDED", "expired": false, "code": null,
                      "reply_lost": false, "video_sha256": "...", "video_bytes": 65536}],
     "peak_running": {"wan2.6-i2v-flash": 5},
     "requests": {"create": {"200": 40, "429": 3, "0": 1}, "query": {"200": 310}},  # 0 = dropped
     "peak_per_second": {"create": 5, "query": 4, "list": 3, "tasks": 5},
     "throttled": {"create": 3}, "throttled_total": 3,
     "faults": {"drop": 1, "500": 2},
     "downloads": {"served": 40, "ranged": 0, "denied": 0, "reset": 0, "truncated": 1,
                   "expired": 0, "bytes": 2621440},
     "duplicate_bodies": 0, "uploads": 0}

`status` ignores expiry (a benchmark wants the outcome); `expired` says whether the
API would now answer UNKNOWN. scheduled/end times are null until known. `epoch` is the unix
time of simulated t=0 (a time t is `epoch + t` on the wire's clock); `dispatch_delay_s` is the
delay drawn for a submission between its create and a free slot taking it.

`peak_per_second` is the most requests to each endpoint within any one simulated second (a
sliding window, whatever their answer); `tasks` counts query, list and cancel together: the
endpoints that share the account's task-endpoint rate limit.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Ledger"]

# served: complete bodies; ranged: 206 partial-content replies; denied: 403/404;
# reset / truncated / expired: injected download faults.
_DOWNLOAD_OUTCOMES = ("served", "ranged", "denied", "reset", "truncated", "expired")
TASK_ENDPOINTS: Final = frozenset({"query", "list", "cancel"})  #: one rate limit for the three
_WINDOW_S: Final = 1.0


@dataclass
class _RateWindow:
    """Requests within the last simulated second, and the most there ever were."""

    times: deque[float] = field(default_factory=deque)
    peak: int = 0

    def add(self, now: float) -> None:
        times = self.times
        times.append(now)
        while times and times[0] <= now - _WINDOW_S:
            times.popleft()
        self.peak = max(self.peak, len(times))


@dataclass
class Ledger:
    """Counters kept alongside the task board; `Simulator.ledger()` renders them."""

    requests: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    throttled: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    downloads: Counter[str] = field(default_factory=Counter)
    download_bytes: int = 0
    body_hashes: Counter[str] = field(default_factory=Counter)
    uploads: int = 0
    rates: defaultdict[str, _RateWindow] = field(default_factory=lambda: defaultdict(_RateWindow))

    def count_request(self, endpoint: str, status: int, now: float) -> None:
        """Record one answered request (status 0 = connection dropped) at simulated time `now`."""
        self.requests[endpoint][str(status)] += 1
        if status == 429:
            self.throttled[endpoint] += 1
        self.rates[endpoint].add(now)
        if endpoint in TASK_ENDPOINTS:
            self.rates["tasks"].add(now)

    def count_body(self, body_sha256: str) -> None:
        """Remember an accepted create body's canonical hash."""
        self.body_hashes[body_sha256] += 1

    @property
    def duplicate_bodies(self) -> int:
        """Accepted submissions whose canonical body had been accepted before."""
        return sum(count - 1 for count in self.body_hashes.values())

    def summary(self) -> dict[str, object]:
        """The counters as plain JSON-ready data."""
        return {
            "requests": {ep: dict(sorted(c.items())) for ep, c in sorted(self.requests.items())},
            "peak_per_second": {name: window.peak for name, window in sorted(self.rates.items())},
            "throttled": dict(sorted(self.throttled.items())),
            "throttled_total": sum(self.throttled.values()),
            "faults": dict(sorted(self.faults.items())),
            "downloads": {
                **{kind: self.downloads[kind] for kind in _DOWNLOAD_OUTCOMES},
                "bytes": self.download_bytes,
            },
            "duplicate_bodies": self.duplicate_bodies,
            "uploads": self.uploads,
        }
