"""A lost, empty or damaged journal is rebuilt from the folder's sidecars and status.csv, and
the account's task list, before anything is sent: nothing finished is paid for again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_helpers import (
    assert_folder_complete,
    assert_own_videos,
    make_specs,
    paid_twice,
    run_batch,
    sim_app,
)
from factories import spec

from runner.cli import main
from runner.engine.rebuild import rebuild_journal
from runner.journal.store import JOURNAL_NAME, Store

MANIFEST = Path(__file__).resolve().parent.parent / "manifests" / "demo.yaml"
FAST = ["--sim-time-scale", "0.002", "--no-progress"]


@pytest.mark.parametrize("loss", ["empty", "deleted", "damaged"])
def test_a_finished_folder_with_a_lost_journal_pays_for_nothing_again(tmp_path: Path, loss: str) -> None:
    """The journal emptied, deleted or overwritten with garbage: the next run rebuilds it from
    the sidecars, redoes nothing and overwrites no video (a damaged one is kept aside)."""
    runner = CliRunner()
    args = ["run", str(MANIFEST), "--out", str(tmp_path), *FAST]
    assert runner.invoke(main, args).exit_code == 0
    folder = tmp_path / "demo"
    videos = {path: path.stat().st_mtime_ns for path in (folder / "videos").glob("*.mp4")}
    journal = folder / JOURNAL_NAME
    for suffix in ("-wal", "-shm"):
        journal.with_name(journal.name + suffix).unlink(missing_ok=True)
    {"empty": lambda: journal.write_bytes(b""), "deleted": journal.unlink,
     "damaged": lambda: journal.write_bytes(b"not a database" * 100)}[loss]()  # fmt: skip
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "rebuilt from the folder: 8 done" in result.output
    assert "Done: 8 of 8 tasks (8 already done before this run)." in result.output
    assert {path: path.stat().st_mtime_ns for path in videos} == videos
    assert bool(list(folder.glob("state.sqlite.damaged-*"))) == (loss == "damaged")


@pytest.mark.anyio
@pytest.mark.virtual_time
async def test_tasks_in_flight_and_tasks_sent_after_the_last_status_table_are_found(tmp_path: Path) -> None:
    """Journal lost mid-run, with a status table older than the last submissions: tasks in
    flight come back from status.csv, the later ones are found on the server by their echo."""
    app = sim_app("default", seed=31)
    specs = [spec("long", "A slow one [sim-time:400]"), *make_specs(15)]
    await run_batch(tmp_path, specs, app, max_wall_time=60)
    stale = tmp_path / "stale-status.csv"
    shutil.copy(tmp_path / "status.csv", stale)
    await run_batch(tmp_path, specs, app, max_wall_time=150)  # more sent, some done
    for name in (JOURNAL_NAME, JOURNAL_NAME + "-wal", JOURNAL_NAME + "-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    shutil.copy(stale, tmp_path / "status.csv")  # the crash came before the next rewrite
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        store.add_tasks(specs)
        rebuilt = rebuild_journal(store, tmp_path)
    assert rebuilt.done > 0 and rebuilt.in_flight > 0
    final = await run_batch(tmp_path, specs, app)
    assert final.summary.done == 16
    assert paid_twice(final.ledger) == 0 and not final.summary.possible_double_charges
    assert final.summary.reconciled > 0  # sent after the stale table: found by their echo
    assert_own_videos(tmp_path, final.ledger)
    assert_folder_complete(tmp_path, final.ledger)


PREVIOUS_LAYOUT = (  # status.csv as runner wrote it before its dataset layout (naive UTC+8 times)
    "id,key,state,attempts,error_code,error_message,task_id,request_id,model,resolution,size,ratio,"
    "duration,seed,with_audio,audio_setting,prompt,actual_prompt,img,img_sha256,last_frame,first_clip,"
    "video,references,audio,audio_sha256,submit_time,scheduled_time,end_time,cost,video_path,"
    "video_sha256,video_size,double_charge_task_ids,superseded_by\n"
    "{a},{ka},running,1,,,tid-a,req-a,wan2.6-i2v-flash,720P,,,5,,,,A scene for a,,/abs/a.png,,,,,,,,"
    "2026-11-24 21:00:01.000,2026-11-24 21:00:02.000,,,,,,,\n"
    "{b},{kb},failed,2,DataInspectionFailed,Inappropriate.,tid-b,req-b,wan2.6-i2v-flash,720P,,,5,,,,"
    "A scene for b,,/abs/b.png,,,,,,,,2026-11-24 21:00:01.000,,2026-11-24 21:00:09.000,,,,,,\n"
)


def test_a_status_table_of_the_previous_layout_still_restores_its_tasks(tmp_path: Path) -> None:
    """A folder last written by the previous version (no source/variant columns, naive times,
    absolute input paths) still gives back its task in flight and its failure."""
    specs = [spec("a"), spec("b")]
    text = PREVIOUS_LAYOUT.format(a="a", ka=specs[0].key, b="b", kb=specs[1].key)
    (tmp_path / "status.csv").write_text(text, encoding="utf-8")
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        store.add_tasks(specs)
        rebuilt = rebuild_journal(store, tmp_path)
        assert (rebuilt.in_flight, rebuilt.ended) == (1, 1)
        assert store.record("a").task_id == "tid-a" and store.record("a").state.value == "pending"
        assert store.record("b").error_code == "DataInspectionFailed"
