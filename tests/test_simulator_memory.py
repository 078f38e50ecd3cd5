"""The built-in simulator's memory: a later process's simulator takes up the tasks, cancels and
uploads of the one before, on the same timeline, so a stopped `runner run` on `sim` resumes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sim_helpers import body, media_body, png_url, text_body

from runner.simulator import SimConfig, Simulator, TaskMemory

REPO = Path(__file__).resolve().parent.parent


def _sim(path: Path, **overrides: Any) -> Simulator:
    config = SimConfig.profile("default", **({"time_scale": 0.001, "burst": 100} | overrides))
    return Simulator(config, memory=TaskMemory(path))


def _submit(sim: Simulator, count: int) -> list[str]:
    return [
        sim.create(body(prompt=f"scene {n}"), "video-generation", False, f"r{n}").task_id
        for n in range(count)
    ]


def _timeline(sim: Simulator, horizon: float) -> list[tuple[Any, ...]]:
    sim.board.advance(horizon)
    return [
        (t.task_id, t.request_id, t.submit, t.scheduled, t.end, t.failure, t.canceled_at, t.request)
        for t in sim.board.tasks.values()
    ]


def test_a_second_simulator_takes_up_the_first_ones_tasks_on_the_same_timeline(tmp_path: Path) -> None:
    """Same ids, same slots and end times, a clock that kept running, a cancel remembered."""
    path = tmp_path / "simulator.jsonl"
    first = _sim(path)
    ids = _submit(first, 7)  # 5 run at once: the last two wait, PENDING
    first.cancel(ids[6])
    assert first.memory is not None
    first.memory.close()
    second = _sim(path)
    assert second.remembered == 7 and second.seed == first.seed
    assert second.now() >= max(t.submit for t in first.board.tasks.values())
    assert _timeline(second, 50_000.0) == _timeline(first, 50_000.0)
    assert second.board.tasks[ids[6]].canceled_at is not None
    fresh = second.create(body(prompt="scene 7"), "video-generation", False, "r7")
    assert fresh.index == 8 and fresh.task_id not in ids
    second.create(body(prompt="scene 0"), "video-generation", False, "r8")
    assert second.ledger()["duplicate_bodies"] == 1, "a body sent before the restart still counts"


def test_requests_of_every_shape_are_remembered_with_their_output_plan(tmp_path: Path) -> None:
    """The ratio, output and billed input seconds of newer families survive the restart."""
    path = tmp_path / "simulator.jsonl"
    first = _sim(path)
    bodies = [
        media_body(
            "wan3.0-video", [{"type": "reference_video", "url": "https://e.example/a.mp4"}], duration=-1
        ),
        media_body("wan2.7-i2v", [{"type": "first_frame", "url": png_url(400, 300)}], duration=7),
        text_body("wan2.6-t2v", size="832*1088"),
        media_body("wan2.7-videoedit", [{"type": "video", "url": "https://e.example/b.mov"}]),
    ]
    for n, payload in enumerate(bodies):
        first.create(payload, "video-generation", False, f"r{n}")
    assert first.memory is not None
    first.memory.close()
    second = _sim(path)
    assert second.remembered == 4
    assert _timeline(second, 50_000.0) == _timeline(first, 50_000.0)
    plans = [
        (t.request.ratio, t.request.output_seconds, t.request.input_seconds)
        for t in second.board.tasks.values()
    ]
    assert plans == [("16:9", 5.0, 5.0), ("4:3", 7.0, 0.0), ("13:17", 5.0, 0.0), ("16:9", 5.0, 5.0)]


def test_a_line_cut_short_by_a_kill_is_the_end_of_the_memory(tmp_path: Path) -> None:
    """A process killed while writing leaves half a line: everything before it is taken up."""
    path = tmp_path / "simulator.jsonl"
    first = _sim(path)
    _submit(first, 3)
    assert first.memory is not None
    first.memory.close()
    text = path.read_text()
    path.write_text(text + text.splitlines()[-1][:40])
    assert _sim(path).remembered == 3


def test_a_memory_written_under_other_settings_is_replaced(tmp_path: Path) -> None:
    """Another time scale or seed is another timeline: start afresh, and say so by remembering 0."""
    path = tmp_path / "simulator.jsonl"
    first = _sim(path, seed=1)
    _submit(first, 2)
    assert first.memory is not None
    first.memory.close()
    second = _sim(path, seed=2)
    assert second.remembered == 0
    assert len(path.read_text().splitlines()) == 1, "only the new header is left"
    _submit(second, 2)
    assert second.memory is not None
    second.memory.close()
    assert _sim(path, seed=2, time_scale=0.002).remembered == 0


@pytest.mark.slow
def test_the_demo_killed_mid_run_resumes_on_the_built_in_simulator(tmp_path: Path) -> None:
    """`runner run manifests/demo.yaml`, killed right after DashScope accepted its second task
    (before the journal knew), then run again: all 8 done, the lost reply adopted, nothing
    generated or uploaded twice, nothing reported expired."""
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    command = [sys.executable, "-m", "runner", "run", "manifests/demo.yaml", "--no-progress"]
    crash = {"RUNNER_CRASH_AT": "after_post_before_journal", "RUNNER_CRASH_AFTER": "2"}

    def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, **env}
        return subprocess.run(
            command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120
        )

    crashed = run(crash)
    assert crashed.returncode == 137, crashed.stdout + crashed.stderr
    final = run({})
    assert final.returncode == 0, final.stdout + final.stderr
    assert "Done: 8 of 8 tasks" in final.stdout and "Expired" not in final.stdout
    assert "no memory" not in final.stderr + final.stdout
    assert "found on DashScope" in final.stderr + final.stdout
    lines = [
        json.loads(line) for line in (tmp_path / "outputs/demo/simulator.jsonl").read_text().splitlines()
    ]
    tasks = [line for line in lines[1:] if "task_id" in line]
    assert len(tasks) == len({t["body_sha256"] for t in tasks}) == 8
    assert sum("upload" in line for line in lines) == 1, "the audio was uploaded once for both runs"
