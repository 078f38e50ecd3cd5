"""`runner cancel` against a simulator on a loopback port: queued tasks cancelled, running ones named."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main
from runner.core.tasks import TaskState
from runner.journal.store import JOURNAL_NAME, Store
from runner.simulator import SimConfig, create_app
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
