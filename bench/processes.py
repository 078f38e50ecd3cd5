"""Child processes for the benchmarks: a `runner sim serve` on a loopback port, and a
command timed with its own CPU time (os.wait4) and peak memory.

Peak memory is the child's VmHWM from /proc, sampled while it runs: on Linux the
ru_maxrss of an exec'd child starts at its parent's peak, so it would report the
benchmark process, not the child."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner.simulator.process import ServerProcess, spawn_server

__all__ = ["Measured", "Sim", "measure", "peak_rss_kb", "serve"]

SIM_KEY = "sk-sim-local"


Sim = ServerProcess


@contextmanager
def serve(settings: dict[str, Any]) -> Iterator[ServerProcess]:
    """Start `runner sim serve --port 0` with `settings` as its YAML config; stop it after."""
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        config = Path(tmp) / "sim.yaml"
        config.write_text(yaml.safe_dump(settings))
        with spawn_server("--config", str(config), api_key=SIM_KEY) as sim:
            yield sim


def peak_rss_kb(pid: int | str = "self") -> int:
    """A process's peak resident memory so far (VmHWM), in kB; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


@dataclass
class Measured:
    """What one child process cost."""

    returncode: int
    wall_s: float
    cpu_s: float
    peak_mb: float
    stdout: str
    stderr: str


def measure(command: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Measured:
    """Run `command` to completion; its wall time, CPU (user + system) and peak RSS."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), cwd=cwd, stdout=out, stderr=err, text=True, env={**os.environ, **(env or {})}
        )
        peak_kb = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, peak_rss_kb(process.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            returncode=process.returncode,
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            peak_mb=peak_kb / 1024,
            stdout=out.read(),
            stderr=err.read(),
        )
