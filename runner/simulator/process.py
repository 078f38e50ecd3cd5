"""`runner sim serve` in a child process: for harnesses, benchmarks and tests that need a real
server on loopback (SIGKILL tests, the SDK comparison, the chaos harness).

    with spawn_server("--profile", "chaos", "--seed", "1") as sim:
        run_something_against(sim.url)
        ledger = sim.ledger()
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from runner.simulator.config import DEFAULT_API_KEY

__all__ = ["ServerProcess", "fetch_ledger", "spawn_server"]


def fetch_ledger(url: str, api_key: str = DEFAULT_API_KEY, *, timeout: float = 60) -> dict[str, Any]:
    """The ledger (GET /_sim/ledger) of the simulator whose API base URL is `url`."""
    root = url.removesuffix("/api/v1")
    response = httpx.get(
        f"{root}/_sim/ledger", headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
    )
    response.raise_for_status()
    return dict(response.json())


@dataclass(frozen=True, slots=True)
class ServerProcess:
    """A running `runner sim serve`: its API base URL, key and process."""

    url: str
    api_key: str
    process: subprocess.Popen[str]

    def ledger(self) -> dict[str, Any]:
        return fetch_ledger(self.url, self.api_key)

    def request_count(self) -> int:
        """Every API request the simulator answered (or dropped), all endpoints."""
        return sum(sum(codes.values()) for codes in self.ledger()["requests"].values())


@contextmanager
def spawn_server(
    *args: str, api_key: str = DEFAULT_API_KEY, stderr_path: Path | None = None
) -> Iterator[ServerProcess]:
    """Start `runner sim serve --port 0 ARGS`, yield it once it printed its URL, stop it after
    (SIGTERM, then SIGKILL if it does not exit). Its stderr goes to `stderr_path` if given."""
    command = [sys.executable, "-m", "runner", "sim", "serve", "--port", "0", "--api-key", api_key, *args]
    with _stderr_file(stderr_path) as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            if not url.startswith("http://"):
                errors.seek(0)
                msg = f"runner sim serve did not start: {errors.read()[-2000:]}"
                raise RuntimeError(msg)
            yield ServerProcess(url, api_key, process)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def _stderr_file(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        with tempfile.TemporaryFile("w+") as handle:
            yield handle
    else:
        with path.open("w+") as handle:
            yield handle
