"""Disk full while downloading: no corrupt file, a consistent journal, no new submissions, exit 4,
and a later run (with space again) completes without generating anything twice.

The small disk is real: a 300 KB tmpfs mounted on the run's videos/ folder (root only; skipped
otherwise). A unit test writes through /dev/full.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import assert_folder_complete, make_specs, run_batch, sim_app

from runner.core.errors import DownloadError, JournalFullError
from runner.core.tasks import TaskState
from runner.journal.store import JOURNAL_NAME, Store
from runner.outputs.sidecars import write_sidecar
from runner.outputs.videos import VideoWriter
from runner.session import exit_code

TASKS = 10


def _mount_tmpfs(folder: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, check=False
    )
    return result.returncode == 0


def _grow(mount_point: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount_point)], check=True)


@pytest.fixture
def small_videos_disk(tmp_path: Path) -> Iterator[Path]:
    """tmp_path/run with videos/ on a 300 KB tmpfs: room for four 64 KB videos and their sidecars."""
    videos = tmp_path / "run" / "videos"
    videos.mkdir(parents=True)
    if not _mount_tmpfs(videos, "300k"):
        pytest.skip("mounting a tmpfs needs root and a kernel that allows it")
    try:
        yield tmp_path / "run"
    finally:
        subprocess.run(["umount", "-l", str(videos)], check=False)


@pytest.mark.anyio
async def test_a_full_disk_stops_submissions_and_a_later_run_completes(small_videos_disk: Path) -> None:
    """ENOSPC mid-download: stop (exit 4), no partial or corrupt file, journal intact; then finish."""
    run_dir = small_videos_disk
    app = sim_app("fast", seed=31, video_bytes=64 * 1024)
    first = await run_batch(run_dir, make_specs(TASKS), app, concurrency=2, queue_ahead=0)
    assert first.summary.stopped_reason == "disk-full", first.summary
    assert first.engine.disk_error is not None and "full" in str(first.engine.disk_error)
    assert exit_code(first.summary, first.engine.account_error) == 4
    assert not list(run_dir.rglob("*.part"))
    assert_folder_complete(run_dir, first.ledger)  # every DONE file byte-exact, nothing half-written
    with Store.open(run_dir / JOURNAL_NAME) as store:
        assert store.integrity_ok()
        events = store.events()
        assert store.counts().get(TaskState.PLANNED, 0) > 0, "submissions stopped before the end"
    first_full = min(e["seq"] for e in events if e["event"] == "download_interrupted")
    assert not [e for e in events if e["event"] == "submit_intent" and e["seq"] > first_full]
    submitted_before = len(first.ledger["submissions"])

    _grow(run_dir / "videos", "10m")
    second = await run_batch(run_dir, make_specs(TASKS), app, concurrency=2, queue_ahead=0)
    assert second.summary.stopped_reason is None and second.summary.unfinished == 0
    with Store.open(run_dir / JOURNAL_NAME) as store:
        assert store.counts() == {TaskState.DONE: TASKS}
    assert_folder_complete(run_dir, second.ledger)
    assert len(second.ledger["submissions"]) == TASKS >= submitted_before
    assert second.ledger["duplicate_bodies"] == 0


@pytest.fixture
def small_run_disk(tmp_path: Path) -> Iterator[Path]:
    """tmp_path/run on a 600 KB tmpfs: the journal's WAL and the videos compete for the space."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    if not _mount_tmpfs(run_dir, "600k"):
        pytest.skip("mounting a tmpfs needs root and a kernel that allows it")
    try:
        yield run_dir
    finally:
        subprocess.run(["umount", "-l", str(run_dir)], check=False)


@pytest.mark.anyio
async def test_a_full_disk_under_the_journal_stops_cleanly_and_resumes(small_run_disk: Path) -> None:
    """SQLITE_FULL on a journal write: the run stops (exit 4, not a traceback), the journal passes
    its integrity check, and a run with space again finishes without paying twice."""
    run_dir = small_run_disk
    app = sim_app("fast", seed=32, video_bytes=64 * 1024)
    first = await run_batch(run_dir, make_specs(20), app)
    assert first.summary.stopped_reason == "disk-full", first.summary
    assert exit_code(first.summary, first.engine.account_error) == 4
    stopped_by = first.engine.journal_error or first.engine.disk_error
    assert stopped_by is not None and str(stopped_by).startswith("The disk holding"), stopped_by
    assert not list(run_dir.rglob("*.part"))
    _grow(run_dir, "20m")
    with Store.open(run_dir / JOURNAL_NAME) as store:
        assert store.integrity_ok()
    second = await run_batch(run_dir, make_specs(20), app)
    assert second.summary.unfinished == 0 and second.summary.stopped_reason is None
    with Store.open(run_dir / JOURNAL_NAME) as store:
        assert store.counts() == {TaskState.DONE: 20}
    assert_folder_complete(run_dir, second.ledger)
    assert second.ledger["duplicate_bodies"] <= second.summary.resubmitted_after_ambiguity


def test_a_video_write_into_a_full_device_leaves_no_file(tmp_path: Path) -> None:
    """Writing through /dev/full raises DownloadError(disk_full) and removes the .part (unit level)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "t1.mp4.part").symlink_to("/dev/full")
    with pytest.raises(DownloadError) as error, VideoWriter(tmp_path, "t1", 65536) as writer:
        writer.write(b"\0" * 65536)
    assert error.value.disk_full
    assert "full" in str(error.value) and "t1" in str(error.value)
    assert sorted(p.name for p in videos.iterdir()) == []
    assert errno.ENOSPC in (getattr(error.value.__cause__, "errno", None),)


def test_a_sidecar_write_into_a_full_device_is_a_disk_full_download_error(tmp_path: Path) -> None:
    """A full disk while the sidecar is written stops downloads like a full disk under the video
    (DownloadError with disk_full), not with a traceback, and leaves no `.part`."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    (spec,) = make_specs(1)
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / f"{spec.id}.json.{os.getpid()}-{threading.get_native_id()}.part").symlink_to("/dev/full")
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        store.add_tasks([spec])
        record = store.record(spec.id)
    with pytest.raises(DownloadError) as error:
        write_sidecar(tmp_path, spec, record)
    assert error.value.disk_full
    assert f"saving the sidecar of task {spec.id!r}" in str(error.value)
    assert sorted(p.name for p in videos.iterdir()) == []


@pytest.mark.parametrize("journal", ["new", "existing"])
def test_a_disk_full_at_start_up_says_so_and_never_to_move_the_journal(tmp_path: Path, journal: str) -> None:
    """No room on the run folder's disk when the run starts: one sentence saying the disk is full
    and to free space, never "move the journal aside" (advice that would lead to paying again)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if not _mount_tmpfs(folder, "1m"):
        pytest.skip("mounting a tmpfs needs root and a kernel that allows it")
    try:
        run_dir = folder / "run"
        if journal == "existing":
            with Store.open(run_dir / JOURNAL_NAME) as store:
                store.add_tasks(make_specs(3))
        filler = folder / "filler"
        with contextlib.suppress(OSError), filler.open("wb", buffering=0) as handle:
            while True:
                handle.write(b"\0" * 4096)
        with pytest.raises(JournalFullError) as caught, Store.open(run_dir / JOURNAL_NAME) as store:
            store.add_tasks(make_specs(40))
        message = str(caught.value)
        assert "is full" in message and "Free some space" in message
        assert "aside" not in message
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
