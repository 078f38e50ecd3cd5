"""The Python API: `runner.plan`, `runner.run` and `runner.run_async`, on the embedded simulator.

Each run is real (the engine, the journal, the simulator in-process, compressed time); the
tests check what a notebook user relies on: no sys.exit, exceptions for errors, the status
table as a DataFrame, and `runner.run` working inside a running event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest

import runner
from runner.engine import Snapshot
from runner.journal import JOURNAL_NAME, Store

FAST = {"sim_time_scale": 0.002, "progress": False}
DOCUMENT = {
    "name": "notebook",
    "endpoint": "sim",
    "model": "wan2.6-i2v-flash",
    "defaults": {"resolution": "720P", "duration": 5},
    "tasks": [
        {"id": "kite", "prompt": "A kite over a beach", "img_url": "https://img.example/kite.png"},
        {"id": "lamp", "prompt": "A lantern on a river", "img_url": "https://img.example/lamp.png"},
        {"id": "bad", "prompt": "No [sim-fail:DataInspectionFailed]", "img_url": "https://img.example/b.png"},
    ],
}


def _journal_states(folder: Path) -> dict[str, str]:
    store = Store.open_readonly(folder / JOURNAL_NAME)
    assert store is not None
    with store:
        return {record.id: record.state.value for record in store.records()}


def test_run_from_plain_code_returns_a_result_and_never_exits(tmp_path: Path) -> None:
    """A run with a rejected task returns (no SystemExit) exit_code 3, the failed id with its
    code, numbers in the summary, and the status table as a DataFrame matching the journal."""
    result = runner.run(DOCUMENT, out=tmp_path, **FAST)
    assert (result.exit_code, result.outcome, result.ok) == (3, "failed tasks", False)
    assert [(f.id, f.state, f.code) for f in result.failures] == [("bad", "failed", "DataInspectionFailed")]
    assert (result.summary.done, result.summary.failed) == (2, 1)
    table = result.table
    assert isinstance(table, pd.DataFrame)
    assert dict(zip(table["id"], table["state"], strict=True)) == _journal_states(result.folder)
    data = json.loads(result.paths.summary.read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(result.to_dict()))
    assert data["counts"] == {"done": 2, "failed": 1}
    assert isinstance(data["wall_time_s"], float) and isinstance(data["cost"], float)
    assert data["failed"] == [
        {
            "id": "bad",
            "state": "failed",
            "code": "DataInspectionFailed",
            "message": result.failures[0].message,
        }
    ]


def test_run_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    """Called from a coroutine (a Jupyter cell), `runner.run` blocks and finishes, where
    asyncio.run would refuse; `run_async` awaited in the same loop resumes the same folder."""

    async def cell() -> tuple[runner.RunResult, runner.RunResult]:
        first = runner.run(DOCUMENT, out=tmp_path, **FAST)
        second = await runner.run_async(DOCUMENT, out=tmp_path, **FAST)
        return first, second

    first, second = asyncio.run(cell())
    assert first.summary.done == 2 and first.exit_code == 3
    assert second.summary.skipped == 2 and second.summary.done == 2  # nothing redone
    assert second.folder == first.folder == tmp_path / "notebook"


def test_a_dataframe_of_rows_is_a_manifest(tmp_path: Path) -> None:
    """Rows of a DataFrame read like a CSV's: the options set the model and name; plan and
    run agree on the tasks; missing cells (NaN) are not given; meta columns reach the table."""
    frame = pd.DataFrame(
        {
            "id": ["kite", "lamp"],
            "prompt": ["A kite over a beach", "A lantern on a river"],
            "img_url": ["https://img.example/kite.png", "https://img.example/lamp.png"],
            "seed": [7, None],  # pandas stores it as 7.0 and NaN
            "meta.scene": ["beach", "river"],
        }
    )
    options = {"name": "frame", "model": "wan2.6-i2v-flash", "endpoint": "sim", "out": tmp_path}
    planned = runner.plan(frame, **options)
    assert planned.to_run == 2
    assert list(planned.table["id"]) == ["kite", "lamp"]
    assert list(planned.table["seed"].fillna(-1)) == [7, -1]
    result = runner.run(frame, **options, **FAST)
    assert result.ok and result.summary.done == 2
    assert list(result.table.sort_values("id")["meta.scene"]) == ["beach", "river"]
    assert runner.plan(frame, **options).to_run == 0


def test_errors_are_the_exceptions_the_cli_turns_into_messages(tmp_path: Path) -> None:
    """A bad manifest is a ManifestError naming the DataFrame row; a real region without a key
    is a ConfigError; nothing is written for either."""
    frame = pd.DataFrame({"prompt": ["A kite"], "img_url": ["https://img.example/k.png"], "duration": [70]})
    with pytest.raises(runner.ManifestError, match="DataFrame row 0: duration"):
        runner.run(frame, name="bad", model="wan2.6-i2v-flash", endpoint="sim", out=tmp_path, **FAST)
    with pytest.raises(runner.ConfigError, match="DASHSCOPE_API_KEY"):
        runner.run(DOCUMENT, endpoint="singapore", out=tmp_path, **FAST)
    assert not any(tmp_path.iterdir())


def test_progress_goes_to_a_callback_ending_with_the_final_counts(tmp_path: Path) -> None:
    """The callback sees snapshots while the run goes, the last one with every task settled."""
    seen: list[Snapshot] = []
    runner.run(DOCUMENT, out=tmp_path, sim_time_scale=0.002, progress=seen.append)
    assert seen, "the callback was never called"
    assert {state.value: count for state, count in seen[-1].counts.items()} == {"done": 2, "failed": 1}


def test_an_interrupt_stops_the_run_cleanly_then_raises(tmp_path: Path) -> None:
    """Ctrl-C while `runner.run` waits (a SIGINT sent from the run's own progress callback, once
    a task is in flight) stops it as `runner run` would, writes its summary, raises
    KeyboardInterrupt, and leaves the folder free: the next call takes up the task in flight
    and finishes the run."""
    tasks = [{**task, "prompt": f"{task['prompt']} [sim-time:200]"} for task in DOCUMENT["tasks"][:2]]
    slow = {**DOCUMENT, "tasks": tasks}

    def interrupt_once_sent(snapshot: Snapshot) -> None:
        if snapshot.submitted and not stopped:
            stopped.append(snapshot)
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: to the process, taken by its main thread

    stopped: list[Snapshot] = []
    with pytest.raises(KeyboardInterrupt):
        runner.run(slow, out=tmp_path, sim_time_scale=0.01, progress=interrupt_once_sent)
    summary = json.loads((tmp_path / "notebook" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["stopped_reason"], summary["exit_code"]) == ("interrupted", 4)
    assert summary["this_run"]["unfinished"] >= 1
    again = runner.run(slow, out=tmp_path, sim_time_scale=0.01, progress=False)  # the same simulator
    assert again.ok and again.counts == {"done": 2}
