"""A task the manifest changed between runs is generated again, and said so; its earlier
version is kept under an id of its own: its video, its cost, and a create still in flight."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_helpers import assert_own_videos, run_batch, sim_app
from factories import spec

from runner.cli import main
from runner.core.tasks import TaskState
from runner.journal.store import JOURNAL_NAME, Store

MANIFEST = """
name: edits
endpoint: sim
model: wan2.6-i2v-flash
defaults: {resolution: 720P, duration: 5}
tasks:
  - {id: one, prompt: "PROMPT", img_url: "https://img.example/one.png"}
  - {id: two, prompt: "A lantern on a river", img_url: "https://img.example/two.png"}
"""
FAST = ["--sim-time-scale", "0.002", "--no-progress"]


@pytest.mark.anyio
@pytest.mark.virtual_time
async def test_an_earlier_version_still_in_flight_is_collected(tmp_path: Path) -> None:
    """Edited while its first version runs: the first version is still polled and downloaded
    under its own id, the new one is generated, and the folder's cost counts both."""
    app = sim_app("default", seed=12)
    first = await run_batch(tmp_path, [spec("a", "A fox"), spec("b", "A bird")], app, max_wall_time=20)
    assert first.summary.stopped_reason == "max-wall-time"
    second = await run_batch(tmp_path, [spec("a", "A fox in the snow"), spec("b", "A bird")], app)
    assert second.summary.total == 2 and second.summary.done == 2
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        earlier = [record for record in store.records() if record.superseded_by == "a"]
        assert len(earlier) == 1 and earlier[0].state is TaskState.DONE
        assert (tmp_path / f"videos/{earlier[0].id}.mp4").is_file()
        assert store.record("a").video_path == "videos/a.mp4"
    assert len(second.ledger["submissions"]) == 3  # nothing abandoned, nothing paid twice
    assert second.summary.cost == pytest.approx(3 * 0.25)
    assert_own_videos(tmp_path, second.ledger)


def test_a_finished_video_is_kept_when_its_task_is_edited(tmp_path: Path) -> None:
    """`runner run` names the changed task and what redoing it costs; the earlier video and its
    sidecar move to the earlier version's id instead of being overwritten."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST.replace("PROMPT", "A kite over a beach"), encoding="utf-8")
    runner = CliRunner()
    args = ["run", str(manifest), "--out", str(tmp_path), *FAST]
    assert runner.invoke(main, args).exit_code == 0
    folder = tmp_path / "edits"
    before = (folder / "videos/one.mp4").read_bytes()
    manifest.write_text(MANIFEST.replace("PROMPT", "A kite over a stormy beach"), encoding="utf-8")
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "1 task(s) changed since the last run (one)" in result.output
    assert "about 0.25 USD" in result.output
    kept = list((folder / "videos").glob("one~*.mp4"))
    assert len(kept) == 1 and kept[0].read_bytes() == before
    sidecar = json.loads(kept[0].with_suffix(".json").read_text())
    assert sidecar["id"] == kept[0].stem and sidecar["request"]["prompt"] == "A kite over a beach"
    assert (
        json.loads((folder / "videos/one.json").read_text())["request"]["prompt"]
        == "A kite over a stormy beach"
    )
    assert "Done: 2 of 2 tasks" in result.output
    assert "Cost: 0.25 USD this run (0.75 USD for the whole folder)" in result.output
