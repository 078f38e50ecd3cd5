"""The ledger: what the simulator saw and did, for tests and benchmarks to assert on."""

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
