"""A `runner sim serve` subprocess on a loopback port, and its ledger, for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from runner.simulator import DEFAULT_API_KEY

__all__ = ["LoopbackSim", "run_cli", "serve_sim"]


@dataclass
class LoopbackSim:
    """A running simulator process: its API base URL and the key it accepts."""

    url: str
    api_key: str
    process: subprocess.Popen[str]

    @property
    def root(self) -> str:
        return self.url.removesuffix("/api/v1")

    def ledger(self) -> dict[str, Any]:
        """The simulator's ledger (GET /_sim/ledger)."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        response = httpx.get(f"{self.root}/_sim/ledger", headers=headers, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def request_count(self) -> int:
        """Every API request the simulator answered (or dropped), all endpoints."""
        return sum(sum(codes.values()) for codes in self.ledger()["requests"].values())


@contextmanager
def serve_sim(*args: str, api_key: str = DEFAULT_API_KEY) -> Iterator[LoopbackSim]:
    """Start `runner sim serve --port 0 ARGS`; yield it once its URL is printed; stop it after."""
    command = [sys.executable, "-m", "runner", "sim", "serve", "--port", "0", "--api-key", api_key, *args]
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            if not url.startswith("http://"):
                errors.seek(0)
                raise RuntimeError(f"runner sim serve did not start: {errors.read()}")
            yield LoopbackSim(url, api_key, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_cli(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`runner ARGS` in a fresh Python process (so crash points and signals act for real)."""
    full_env = {**os.environ, **(env or {})}
    command = [sys.executable, "-m", "runner", *map(str, args)]
    return subprocess.run(
        command, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd, check=False
    )
