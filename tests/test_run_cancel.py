"""`runner cancel`: queued tasks cancelled, running ones named, on a loopback simulator and on the
built-in one, which remembers its tasks (and the cancels) in the run folder's simulator.jsonl."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main
from runner.core.tasks import TaskState
from runner.journal.store import JOURNAL_NAME, Store
from runner.simulator import SimConfig, TaskMemory, create_app
from runner.simulator.server import serve_in_thread


@pytest.mark.slow
def test_cancel_cancels_queued_tasks_and_names_running_ones(tmp_path: Path) -> None:
    """Two tasks run, two wait in the server's queue: cancel cancels the two queued ones only."""
    app = create_app(SimConfig.profile("default", time_scale=0.01, seed=2))
    rows = "\n".join(
        f'  - {{id: c{i}, prompt: "Long scene {i} [sim-time:3000]", img_url: "https://img.example/{i}.png"}}'
        for i in range(6)
    )
    with serve_in_thread(app) as url:
        manifest = tmp_path / "c.yaml"
        manifest.write_text(
            f"name: c\nendpoint: {url}\nmodel: wan2.2-i2v-flash\n"
            f"defaults: {{resolution: 720P, duration: 5}}\ntasks:\n{rows}\n",
            encoding="utf-8",
        )
        runner = CliRunner()
        common = ["--out", str(tmp_path)]
        stopped = runner.invoke(
            main,
            ["run", str(manifest), *common, "--queue-ahead", "2", "--max-wall-time", "3", "--no-progress"],
        )
        assert stopped.exit_code == 4, stopped.output
        cancelled = runner.invoke(main, ["cancel", str(manifest), *common])
    assert cancelled.exit_code == 0, cancelled.output
    assert "Cancelled 2 queued task(s)." in cancelled.output
    assert cancelled.output.count("cannot be cancelled") == 2
    with Store.open(tmp_path / "c" / JOURNAL_NAME) as store:
        assert store.counts().get(TaskState.CANCELLED) == 2


def _long_tasks(endpoint: str) -> str:
    rows = "\n".join(
        f'  - {{id: c{i}, prompt: "Long scene {i} [sim-time:100000]", img_url: "https://img.example/{i}.png"}}'
        for i in range(4)
    )
    return (
        f"name: c\nendpoint: {endpoint}\nmodel: wan2.2-i2v-flash\n"
        f"defaults: {{resolution: 720P, duration: 5}}\ntasks:\n{rows}\n"
    )


@pytest.mark.slow
def test_cancel_reaches_the_built_in_simulators_remembered_tasks(tmp_path: Path) -> None:
    """After a sim run stops, cancel reopens its simulator (same settings, from the journal) and its
    memory: the two queued tasks are cancelled, and a later simulator remembers the cancels."""
    manifest = tmp_path / "c.yaml"
    manifest.write_text(_long_tasks("sim"), encoding="utf-8")
    common = ["--out", str(tmp_path)]
    run = ["run", str(manifest), *common, "--queue-ahead", "2", "--max-wall-time", "2", "--no-progress"]
    stopped = CliRunner().invoke(main, [*run, "--sim-time-scale", "0.01"])
    assert stopped.exit_code == 4, stopped.output
    cancelled = CliRunner().invoke(main, ["cancel", str(manifest), *common])
    assert cancelled.exit_code == 0, cancelled.output
    assert "keeps this run's tasks in simulator.jsonl" in cancelled.output
    assert "Cancelled 2 queued task(s)." in cancelled.output
    assert cancelled.output.count("cannot be cancelled") == 2
    with Store.open(tmp_path / "c" / JOURNAL_NAME) as store:
        assert store.counts().get(TaskState.CANCELLED) == 2
    memory = TaskMemory(tmp_path / "c" / "simulator.jsonl")
    later = create_app(SimConfig.profile("default", time_scale=0.01), memory=memory)
    statuses = [entry["status"] for entry in later.state.simulator.ledger()["submissions"]]
    memory.close()
    assert sorted(statuses) == ["CANCELED", "CANCELED", "RUNNING", "RUNNING"]


@pytest.mark.slow
def test_cancel_says_so_when_the_built_in_simulator_forgot_the_run(tmp_path: Path) -> None:
    """With simulator.jsonl gone, nothing can be cancelled, and cancel says what `runner run` will do."""
    manifest = tmp_path / "c.yaml"
    manifest.write_text(_long_tasks("sim"), encoding="utf-8")
    common = ["--out", str(tmp_path)]
    run = ["run", str(manifest), *common, "--queue-ahead", "2", "--max-wall-time", "1", "--no-progress"]
    assert CliRunner().invoke(main, run).exit_code == 4
    (tmp_path / "c" / "simulator.jsonl").unlink()
    cancelled = CliRunner().invoke(main, ["cancel", str(manifest), *common])
    assert cancelled.exit_code == 0, cancelled.output
    assert "no memory of this run's tasks" in cancelled.output and "nothing was cancelled" in cancelled.output
    with Store.open(tmp_path / "c" / JOURNAL_NAME) as store:
        assert not store.counts().get(TaskState.CANCELLED)
