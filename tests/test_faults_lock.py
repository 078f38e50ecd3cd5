"""Two `runner run` processes on one run folder: the second refuses, naming the first, and the
server sees no duplicate submission."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from loopback_sim import run_cli, serve_sim

from runner.journal.file import LOCK_NAME

pytestmark = pytest.mark.slow

TASKS = 12


def lock_manifest(folder: Path) -> Path:
    rows = "\n".join(
        f'  - {{id: l{i:02d}, prompt: "Lock scene {i}", img_url: "https://img.example/l{i}.png"}}'
        for i in range(TASKS)
    )
    path = folder / "lock.yaml"
    path.write_text(f"name: lock\nmodel: wan2.6-i2v-flash\ntasks:\n{rows}\n", encoding="utf-8")
    return path


def wait_for_holder(lock: Path, process: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The lock file's text once the first runner has written it (its pid and host)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if lock.is_file() and f"pid {process.pid}" in lock.read_text():
            return lock.read_text().strip()
        time.sleep(0.05)  # waiting for another process to start, not for correctness
    raise AssertionError(f"the first runner never took the lock (exit {process.poll()})")


def test_a_second_runner_on_the_same_folder_refuses_and_nothing_is_sent_twice(tmp_path: Path) -> None:
    """While one run holds the folder, another exits 1 naming its pid; the server sees each body once."""
    manifest = lock_manifest(tmp_path)
    with serve_sim("--time-scale", "0.02", "--seed", "8") as sim:
        command = [sys.executable, "-m", "runner", "run", str(manifest), "--endpoint", sim.url]
        command += ["--out", str(tmp_path / "out"), "--no-progress"]
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            holder = wait_for_holder(tmp_path / "out" / "lock" / LOCK_NAME, first)
            second = run_cli(
                "run", manifest, "--endpoint", sim.url, "--out", tmp_path / "out", "--no-progress"
            )
            assert second.returncode == 1, second.stdout + second.stderr
            assert f"pid {first.pid}" in second.stderr and "in use by" in second.stderr
            assert holder in second.stderr
            first.send_signal(signal.SIGTERM)  # a clean, resumable stop
            first.communicate(timeout=60)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        assert first.returncode in (0, 4), first.returncode
        ledger = sim.ledger()
    assert ledger["duplicate_bodies"] == 0
    bodies = [entry["request_sha256"] for entry in ledger["submissions"]]
    assert len(bodies) == len(set(bodies)) <= TASKS
