"""Resume verifies what it claims: a done video that is missing or altered is noticed and
downloaded again while DashScope still has it; otherwise it is reported and can be regenerated."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from engine_helpers import assert_folder_complete, make_specs, run_batch, sim_app

from runner.cli import main
from runner.core.tasks import TaskState
from runner.journal.store import JOURNAL_NAME, Store

pytestmark = pytest.mark.anyio


@pytest.mark.virtual_time
async def test_a_missing_or_resized_video_is_downloaded_again(tmp_path: Path) -> None:
    """Every run checks each done video's presence and size; --verify also its hash."""
    app = sim_app("default", seed=21)
    specs = make_specs(4)
    await run_batch(tmp_path, specs, app)
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    videos[0].unlink()
    videos[1].write_bytes(videos[1].read_bytes()[:100])
    same_size = bytearray(videos[2].read_bytes())
    same_size[-1] ^= 0xFF
    videos[2].write_bytes(bytes(same_size))
    second = await run_batch(tmp_path, specs, app)
    assert second.engine.stats.done == 2  # the missing and the truncated one
    assert second.summary.done == 4 and len(second.ledger["submissions"]) == 4  # fetched, not paid again
    third = await run_batch(tmp_path, specs, app, verify=True)
    assert third.engine.stats.done == 1  # the one altered in place, found by its hash
    assert_folder_complete(tmp_path, third.ledger)


@pytest.mark.virtual_time
async def test_a_lost_video_the_server_no_longer_has_is_reported_then_regenerated(tmp_path: Path) -> None:
    """Past the task's lifetime the video cannot be fetched again: the task is expired with a
    message saying so, and --retry-failed generates it again."""
    app = sim_app("default", seed=22, task_ttl_s=600.0, url_ttl_s=600.0)
    specs = make_specs(2)
    await run_batch(tmp_path, specs, app)
    await anyio.sleep(900)  # the server forgets the tasks and their videos
    (tmp_path / "videos" / "t0000.mp4").unlink()
    second = await run_batch(tmp_path, specs, app)
    assert second.summary.expired == 1 and second.summary.done == 1
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        record = store.record("t0000")
        assert record.state is TaskState.EXPIRED and "--retry-failed" in (record.error_message or "")
    third = await run_batch(tmp_path, specs, app, retry_failed=True)
    assert third.summary.done == 2 and len(third.ledger["submissions"]) == 3
    assert_folder_complete(tmp_path, third.ledger)


def test_status_verify_names_each_video_that_is_not_as_recorded(tmp_path: Path) -> None:
    """`runner status --verify` hashes every done video: exit 0 when all match, else exit 1
    naming each missing or altered one, without changing anything."""
    manifest = Path(__file__).resolve().parent.parent / "manifests" / "demo.yaml"
    runner = CliRunner()
    args = ["--out", str(tmp_path)]
    assert (
        runner.invoke(
            main, ["run", str(manifest), *args, "--sim-time-scale", "0.002", "--no-progress"]
        ).exit_code
        == 0
    )
    clean = runner.invoke(main, ["status", str(tmp_path / "demo"), "--verify"])
    assert clean.exit_code == 0 and "Every done video is present" in clean.output
    video = sorted((tmp_path / "demo" / "videos").glob("*.mp4"))[0]
    altered = bytearray(video.read_bytes())
    altered[-1] ^= 0xFF
    video.write_bytes(bytes(altered))
    result = runner.invoke(main, ["status", str(tmp_path / "demo"), "--verify"])
    assert result.exit_code == 1
    assert f"{video.stem}: videos/{video.name} has a SHA-256 that differs" in result.output
    assert video.read_bytes() == bytes(altered)
