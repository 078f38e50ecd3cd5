"""The ledger: what the simulator saw and did, for tests and benchmarks to assert on.

`GET /_sim/ledger` (and `app.state.simulator.ledger()`) returns, times in simulated
seconds since the simulator started (T_i = end_time - scheduled_time):

    {"request_id": "...",              # HTTP only
     "now": 812.4, "seed": 7,
     "submissions": [{"index": 1, "task_id": "...", "model": "wan2.6-i2v-flash",
                      "request_sha256": "<sha256 of the canonical JSON body>",
                      "submit_time": 0.0, "scheduled_time": 1.2, "end_time": 95.0,
                      "status": "SUCCEEDED", "expired": false, "code": null,
                      "reply_lost": false, "video_sha256": "...", "video_bytes": 65536}],
     "peak_running": {"wan2.6-i2v-flash": 5},
     "requests": {"create": {"200": 40, "429": 3, "0": 1}, "query": {"200": 310}},  # 0 = dropped
     "throttled": {"create": 3}, "throttled_total": 3,
     "faults": {"drop": 1, "500": 2},
     "downloads": {"served": 40, "ranged": 0, "denied": 0, "reset": 0, "truncated": 1,
                   "expired": 0, "bytes": 2621440},
     "duplicate_bodies": 0, "uploads": 0}

`status` ignores expiry (a benchmark wants the outcome); `expired` says whether the
API would now answer UNKNOWN. scheduled/end times are null until known.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

__all__ = ["Ledger"]

# served: complete bodies; ranged: 206 partial-content replies; denied: 403/404;
# reset / truncated / expired: injected download faults.
_DOWNLOAD_OUTCOMES = ("served", "ranged", "denied", "reset", "truncated", "expired")


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

    def count_request(self, endpoint: str, status: int) -> None:
        """Record one answered request (status 0 = connection dropped)."""
        self.requests[endpoint][str(status)] += 1
        if status == 429:
            self.throttled[endpoint] += 1

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
