"""Crash safety end to end: `runner run` processes killed at random moments and at every named
crash point, against `runner sim serve` in another process, then resumed to a verified folder."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.core.endpoints import SIM_API_KEY
from runner.core.tasks import TaskState
from runner.engine.crashpoints import CRASH_POINTS
from runner.journal.store import JOURNAL_NAME, Store
from runner.simulator.process import fetch_ledger, spawn_server

pytestmark = pytest.mark.slow

TASKS = 8


@pytest.fixture
def sim_url() -> Iterator[str]:
    """A simulator on a loopback port in its own process (compressed time, fixed seed)."""
    with spawn_server("--time-scale", "0.01", "--seed", "4") as server:
        yield server.url


def write_manifest(folder: Path, url: str) -> Path:
    rows = "\n".join(
        f'  - {{id: k{i:02d}, prompt: "Scene {i} [sim-time:{60 + 7 * i}]", img_url: "https://img.example/{i}.png"}}'
        for i in range(TASKS)
    )
    path = folder / "kill.yaml"
    path.write_text(
        f"name: kill\nendpoint: {url}\nmodel: wan2.6-i2v-flash\n"
        f"defaults: {{resolution: 720P, duration: 5}}\ntasks:\n{rows}\n",
        encoding="utf-8",
    )
    return path


def runner_command(manifest: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "runner", "run", str(manifest), "--out", str(out), "--no-progress"]


def run_to_end(
    manifest: Path, out: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        runner_command(manifest, out),
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ledger(url: str) -> dict[str, Any]:
    return fetch_ledger(url, SIM_API_KEY, timeout=10)


def assert_complete_and_paid_once(run_dir: Path, url: str) -> None:
    """Every task DONE, each video equal to the server's, no .part, duplicates only when reported."""
    book = ledger(url)
    by_task_id = {entry["task_id"]: entry for entry in book["submissions"]}
    with Store.open(run_dir / JOURNAL_NAME) as store:
        records = store.records()
        assert [r.state for r in records] == [TaskState.DONE] * TASKS
        for record in records:
            video = (run_dir / (record.video_path or "")).read_bytes()
            assert hashlib.sha256(video).hexdigest() == by_task_id[record.task_id]["video_sha256"]
        resubmitted = defaultdict(int)
        for event in store.events():
            if event["event"] == "not_found":
                resubmitted[event["id"]] += 1
        spec_by_prompt = {store.spec(r.id).prompt: r.id for r in records}
    assert not list(run_dir.rglob("*.part"))
    live = defaultdict(int)
    for entry in book["submissions"]:
        if entry["status"] != "FAILED":
            live[entry["request_sha256"]] += 1
    duplicates = sum(count - 1 for count in live.values())
    assert duplicates <= sum(resubmitted.values()), (duplicates, dict(resubmitted), spec_by_prompt)


def wait_for_a_submission(url: str, process: subprocess.Popen[str]) -> None:
    """Until the server has the run's first submission: by then the run listens for Ctrl-C
    (a fixed sleep could end, on a loaded machine, before the process has even started)."""
    deadline = time.monotonic() + 60
    while not ledger(url)["submissions"]:
        assert process.poll() is None, "the run ended before submitting anything"
        assert time.monotonic() < deadline, "no submission reached the server within 60 s"
        time.sleep(0.05)


def test_random_sigkills_then_resume(tmp_path: Path, sim_url: str) -> None:
    """SIGKILL at random moments, four times, then a final run: complete, verified, paid once."""
    manifest = write_manifest(tmp_path, sim_url)
    chance = random.Random(20261124)
    for _ in range(4):
        process = subprocess.Popen(
            runner_command(manifest, tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(chance.uniform(0.8, 2.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    final = run_to_end(manifest, tmp_path)
    assert final.returncode == 0, final.stdout + final.stderr
    assert_complete_and_paid_once(tmp_path / "kill", sim_url)


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_crash_point_then_resume(tmp_path: Path, sim_url: str, point: str) -> None:
    """Dying at a named crash point (137) and running again leaves a complete, verified folder."""
    manifest = write_manifest(tmp_path, sim_url)
    crashed = run_to_end(manifest, tmp_path, {"RUNNER_CRASH_AT": point, "RUNNER_CRASH_AFTER": "3"})
    assert crashed.returncode == 137, crashed.stdout + crashed.stderr
    final = run_to_end(manifest, tmp_path)
    assert final.returncode == 0, final.stdout + final.stderr
    assert_complete_and_paid_once(tmp_path / "kill", sim_url)
    summary = json.dumps(final.stdout)
    assert f"Done: {TASKS} of {TASKS} tasks" in summary


def test_ctrl_c_stops_cleanly_with_exit_4_and_resumes(tmp_path: Path, sim_url: str) -> None:
    """SIGINT: no new submissions, exit 4 promptly, in-flight work kept; the next run finishes it."""
    manifest = write_manifest(tmp_path, sim_url)
    process = subprocess.Popen(
        runner_command(manifest, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for_a_submission(sim_url, process)
    process.send_signal(signal.SIGINT)
    output, errors = process.communicate(timeout=15)
    assert process.returncode == 4, output + errors
    assert "Stopped by Ctrl-C or a signal" in output
    final = run_to_end(manifest, tmp_path)
    assert final.returncode == 0, final.stdout + final.stderr
    assert_complete_and_paid_once(tmp_path / "kill", sim_url)


def test_a_second_ctrl_c_quits_at_once_and_loses_nothing(tmp_path: Path, sim_url: str) -> None:
    """Two Ctrl-C in a row: the second ends the process at once (exit 130) while the first
    still stops cleanly; the journal is intact and the next run finishes the work."""
    manifest = write_manifest(tmp_path, sim_url)
    process = subprocess.Popen(
        runner_command(manifest, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for_a_submission(sim_url, process)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    output, errors = process.communicate(timeout=15)
    # 130: the second Ctrl-C ended it at once. A stop can take less than the 50 ms between the
    # two: then the first had already stopped it cleanly (4), or the second arrived while the
    # interpreter was exiting, when Python has put back the system's default (killed by SIGINT).
    assert process.returncode in (130, 4, -signal.SIGINT), output + errors
    assert "Traceback" not in errors
    with Store.open(tmp_path / "kill" / JOURNAL_NAME) as store:
        assert store.integrity_ok()
    final = run_to_end(manifest, tmp_path)
    assert final.returncode == 0, final.stdout + final.stderr
    assert_complete_and_paid_once(tmp_path / "kill", sim_url)


def test_a_killed_run_leaves_a_report_listing_its_tasks(tmp_path: Path, sim_url: str) -> None:
    """SIGKILL after the first submission: report.html, written at the run's start (and every
    30 s after), lists every task, as a page of a run that was running."""
    manifest = write_manifest(tmp_path, sim_url)
    process = subprocess.Popen(
        runner_command(manifest, tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_a_submission(sim_url, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    page = (tmp_path / "kill" / "report.html").read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert match is not None
    data = json.loads(match.group(1))
    assert [task["id"] for task in data["tasks"]] == [f"k{i:02d}" for i in range(TASKS)]
    assert data["run"]["state"] == "running"
