"""`runner status` tells a live run from a finished, stopped or interrupted one, and says what to do.

Real processes (a run is killed with SIGKILL); what is asserted is the state the folder is
in at each step, never how long anything took.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from factories import write_manifest
from loopback_sim import run_cli

from runner.cli import main

MANIFEST = "name: live\nendpoint: sim\nmodel: wan2.6-i2v-flash\ndefaults: {audio: false}\ntasks:\n" + "".join(
    f'  - {{id: t{i}, prompt: "Scene {i}", img_url: "https://img.example/{i}.png"}}\n' for i in range(12)
)


def _status(folder: Path) -> dict[str, object]:
    result = CliRunner().invoke(main, ["status", str(folder), "--json"])
    data: dict[str, object] = json.loads(result.output)
    return data


def test_status_says_running_then_interrupted_after_a_kill_and_how_to_resume(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, MANIFEST)
    out = tmp_path / "out"
    before = CliRunner().invoke(main, ["status", str(manifest), "--out", str(out), "--json"])
    assert json.loads(before.output)["state"] == "not started"  # JSON even before any run
    command = [sys.executable, "-m", "runner", "run", str(manifest), "--out", str(out), "--no-progress"]
    process = subprocess.Popen([*command, "--sim-time-scale", "0.2"], stdout=subprocess.PIPE, text=True)
    try:
        lock = out / "live" / "state.lock"
        while process.poll() is None and not (lock.is_file() and f"pid {process.pid}" in lock.read_text()):
            time.sleep(0.05)  # waiting for the run to start, not for correctness
        while process.poll() is None and _status(out / "live").get("started_at") in (None, "—"):
            time.sleep(0.05)
        table = out / "live" / "status.csv"
        while process.poll() is None and not table.is_file():
            time.sleep(0.05)
        assert process.poll() is None, "the status table appeared only when the run ended"
        live = _status(out / "live")
        assert live["state"] == "running" and f"pid {process.pid}" in str(live["state_detail"])
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(table.read_text(encoding="utf-8").splitlines()) == 13  # a killed run leaves its table
    dead = _status(out / "live")
    assert dead["state"] == "interrupted"
    assert "Run the same command again to resume" in str(dead["state_detail"])
    assert dead["efficiency"] == "—"
    human = CliRunner().invoke(main, ["status", str(out / "live")]).output
    assert "ended without finishing" in human
    # The kill may land before or after the first creates; a resume on another time scale is a new
    # simulator timeline, where tasks in flight at the kill come back expired: --retry-failed redoes them.
    fast = ["--out", out, "--no-progress", "--sim-time-scale", "0.002"]
    again = run_cli("run", manifest, *fast)
    assert again.returncode in (0, 3), again.stderr
    again = run_cli("run", manifest, *fast, "--retry-failed")
    assert again.returncode == 0, again.stderr
    assert _status(out / "live")["state"] == "finished"
    page = (out / "live" / "report.html").read_text(encoding="utf-8")
    assert '"state":"finished"' in page  # the run's own last report, written while it held the lock


def test_a_cost_cap_stop_says_to_raise_the_cap(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, MANIFEST)
    out = tmp_path / "out"
    capped = run_cli(
        "run", manifest, "--out", out, "--no-progress", "--sim-time-scale", "0.002", "--max-cost", "0.2"
    )
    assert capped.returncode == 4
    assert "the cost cap (--max-cost or limits.max_cost) was reached. Raise it" in capped.stdout
    assert "efficiency" not in capped.stdout
    stopped = _status(out / "live")
    assert stopped["state"] == "stopped" and "Raise it" in str(stopped["state_detail"])
    assert stopped["efficiency"] == "—"
