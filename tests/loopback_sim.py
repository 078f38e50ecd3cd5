"""A `runner sim serve` subprocess on a loopback port, and its ledger, for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path

from runner.simulator import DEFAULT_API_KEY
from runner.simulator.process import ServerProcess, spawn_server

__all__ = ["LoopbackSim", "run_cli", "serve_sim"]


LoopbackSim = ServerProcess


def serve_sim(*args: str, api_key: str = DEFAULT_API_KEY) -> AbstractContextManager[ServerProcess]:
    """Start `runner sim serve --port 0 ARGS` in its own process (runner.simulator.process)."""
    return spawn_server(*args, api_key=api_key)


def run_cli(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`runner ARGS` in a fresh Python process (so crash points and signals act for real)."""
    full_env = {**os.environ, **(env or {})}
    command = [sys.executable, "-m", "runner", *map(str, args)]
    return subprocess.run(
        command, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd, check=False
    )
