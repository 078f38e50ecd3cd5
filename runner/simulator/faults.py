"""Fault injection: which request gets which failure, decided from the seed.

A request's fault comes from, in order: the script (the nth request to an endpoint),
a time window (every request in [start, end) of simulated time), then the rates (one
uniform draw per request, keyed by seed, endpoint and request number).

A dropped connection is rendered as response headers promising a body, then an
exception: over a real socket uvicorn closes the connection and the client sees an
incomplete response; in-process, `httpx.ASGITransport` re-raises the exception, which
is an `httpx.RemoteProtocolError`, so a client sees the same transport error class.
"""

from __future__ import annotations

import httpx
from starlette.types import Receive, Scope, Send

from runner.simulator.config import FaultConfig
from runner.simulator.draws import request_uniform

__all__ = ["DOWNLOAD_KINDS", "Disconnect", "FaultPlan", "SimulatedDisconnect"]

DOWNLOAD_KINDS = ("reset", "truncate", "expired")


class SimulatedDisconnect(httpx.RemoteProtocolError):
    """The simulator dropped the connection on purpose (a rehearsed network failure)."""


class Disconnect:
    """An ASGI response that starts, promises a body, and drops the connection."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send headers claiming 1 KiB, then fail before any body byte."""
        headers = [(b"content-type", b"application/json"), (b"content-length", b"1024")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise SimulatedDisconnect(f"Simulated connection drop ({self.reason}).")


class FaultPlan:
    """Decides the request-level and download faults for each request."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self._config = config
        self._seed = seed

    def request_fault(self, endpoint: str, number: int, now: float) -> str | None:
        """The fault kind for the `number`-th request to `endpoint` at `now`, or None."""
        config = self._config
        for entry in config.script:
            if entry.endpoint == endpoint and entry.nth == number:
                return entry.kind
        for window in config.windows:
            hits = "*" in window.endpoints or endpoint in window.endpoints
            if hits and window.start <= now < window.end:
                return window.kind
        if "*" not in config.endpoints and endpoint not in config.endpoints:
            return None
        rates = [
            ("500", config.http_500_rate),
            ("503", config.http_503_rate),
            ("504", config.http_504_rate),
            ("drop", config.drop_rate),
            ("slow", config.slow_rate),
        ]
        if endpoint == "create":
            rates.append(("lost_reply", config.lost_reply_rate))
        return _pick(request_uniform(self._seed, endpoint, number), rates)

    def download_fault(self, number: int) -> str | None:
        """reset, truncate or expired for the `number`-th download, or None."""
        config = self._config
        rates = [
            ("reset", config.reset_download_rate),
            ("truncate", config.truncate_download_rate),
            ("expired", config.expired_url_rate),
        ]
        for entry in config.script:
            if entry.endpoint == "download" and entry.nth == number:
                return entry.kind
        return _pick(request_uniform(self._seed, "download-body", number), rates)


def _pick(draw: float, rates: list[tuple[str, float]]) -> str | None:
    cumulative = 0.0
    for kind, rate in rates:
        cumulative += rate
        if draw < cumulative:
            return kind
    return None
