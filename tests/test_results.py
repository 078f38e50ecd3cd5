"""Videos, sidecars, the status table and the run summary (runner.outputs)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread
import pandas as pd
import pytest
from factories import spec as make_spec
from seeding import FOX, local_image, minimal_mp4, seed_run

from runner.core.errors import DownloadError
from runner.core.lifecycle import Event
from runner.core.tasks import MediaRef, RunSummary, TaskState
from runner.journal.store import JOURNAL_NAME, Store
from runner.outputs.sidecars import write_sidecar
from runner.outputs.status_table import (
    StatusWriter,
    refresh_status_table,
    snapshot_pause,
    write_status_table,
)
from runner.outputs.summary import render_summary
from runner.outputs.videos import VideoWriter, remove_stale_parts


def _write_all(writer: VideoWriter, data: bytes, step: int = 7) -> None:
    for start in range(0, len(data), step):
        writer.write(data[start : start + step])


def test_video_writer_renames_a_verified_video_into_place(tmp_path: Path) -> None:
    """A complete MP4 ends at videos/<task>.mp4 with its hash and size, and no .part remains."""
    data = minimal_mp4(b"payload" * 10)
    with VideoWriter(tmp_path, "fox", expected_size=len(data)) as writer:
        _write_all(writer, data)
        video = writer.finish()
    assert video.path == "videos/fox.mp4"
    assert video.sha256 == hashlib.sha256(data).hexdigest()
    assert video.size == len(data)
    assert (tmp_path / "videos" / "fox.mp4").read_bytes() == data
    assert list((tmp_path / "videos").glob("*.part")) == []


def test_video_writer_hands_a_large_video_to_the_disk_as_it_arrives(tmp_path: Path) -> None:
    """Past each 16 MiB the bytes so far leave Python's buffer for the kernel's write-back, so
    the closing fsync is not left with the whole video; the result is still byte-exact."""
    writeback = 16 * 1024 * 1024
    data = minimal_mp4(os.urandom(2 * writeback + 1024 * 1024))
    part = tmp_path / "videos" / "fox.mp4.part"
    seen_on_disk = []
    handed = 0
    with VideoWriter(tmp_path, "fox", expected_size=len(data)) as writer:
        for start in range(0, len(data), 4000):  # small pieces: Python's file buffer holds some
            writer.write(data[start : start + 4000])
            written = min(start + 4000, len(data))
            if written - handed >= writeback:
                seen_on_disk.append((part.stat().st_size, written))
                handed = written
        video = writer.finish()
    assert len(seen_on_disk) == 2
    assert all(on_disk == written for on_disk, written in seen_on_disk)
    assert video.sha256 == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "videos" / "fox.mp4").read_bytes() == data


def _write_calls() -> int:
    """This process's write system calls so far (Linux)."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["syscw"])


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's /proc/self/io")
def test_video_writer_hands_the_kernel_a_large_chunk_in_small_writes(tmp_path: Path) -> None:
    """A 1 MiB read reaches the file in writes of at most 128 KiB: on Linux 6.x a larger write
    fills large page-cache folios, which a virtual machine with free page reporting makes slow
    to touch. The bytes, the hash and the size are the same."""
    data = minimal_mp4(os.urandom(1024 * 1024 + 5))
    with VideoWriter(tmp_path, "fox", expected_size=len(data)) as writer:
        writer.write(data[:100])  # opens the .part
        before = _write_calls()
        writer.write(data[100:])
        calls = _write_calls() - before
        video = writer.finish()
    assert calls >= 8
    assert video.sha256 == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "videos" / "fox.mp4").read_bytes() == data


def test_video_writer_accepts_unknown_size(tmp_path: Path) -> None:
    """Without an announced size, any MP4 is accepted."""
    writer = VideoWriter(tmp_path, "fox", expected_size=None)
    writer.write(minimal_mp4())
    assert writer.finish().size == len(minimal_mp4())


def test_video_writer_rejects_a_short_download(tmp_path: Path) -> None:
    """A size mismatch raises a sentence naming the task and both sizes, and leaves nothing behind."""
    data = minimal_mp4(b"x" * 20)
    writer = VideoWriter(tmp_path, "fox", expected_size=len(data) + 5)
    writer.write(data)
    with pytest.raises(DownloadError) as caught:
        writer.finish()
    message = str(caught.value)
    assert "'fox'" in message and str(len(data)) in message and str(len(data) + 5) in message
    assert not caught.value.disk_full
    assert list((tmp_path / "videos").iterdir()) == []


def test_video_writer_rejects_bytes_that_are_not_mp4(tmp_path: Path) -> None:
    """An HTML error page saved as a video fails the signature check."""
    writer = VideoWriter(tmp_path, "fox", expected_size=None)
    writer.write(b"<html><body>AccessDenied</body></html>")
    with pytest.raises(DownloadError, match="not an MP4"):
        writer.finish()
    assert not (tmp_path / "videos" / "fox.mp4").exists()
    assert not (tmp_path / "videos" / "fox.mp4.part").exists()


def test_video_writer_context_manager_aborts_on_error(tmp_path: Path) -> None:
    """An exception inside the block removes the .part; abort stays safe to call again."""
    with pytest.raises(RuntimeError), VideoWriter(tmp_path, "fox", expected_size=None) as writer:
        writer.write(minimal_mp4())
        raise RuntimeError("connection dropped")
    assert not (tmp_path / "videos" / "fox.mp4.part").exists()
    writer.abort()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_video_writer_reports_a_full_disk(tmp_path: Path) -> None:
    """ENOSPC becomes DownloadError(disk_full=True) with a sentence, and the .part is removed."""
    (tmp_path / "videos").mkdir()
    part = tmp_path / "videos" / "fox.mp4.part"
    part.symlink_to("/dev/full")  # every write to /dev/full fails with ENOSPC
    writer = VideoWriter(tmp_path, "fox", expected_size=None)
    with pytest.raises(DownloadError) as caught:
        writer.write(minimal_mp4(b"\x00" * 200_000))
    assert caught.value.disk_full
    assert "full" in str(caught.value) and "'fox'" in str(caught.value)
    assert not part.is_symlink()


def test_video_writer_refuses_a_task_id_that_is_a_path() -> None:
    """A task id that would escape videos/ is refused before any file is touched."""
    with pytest.raises(ValueError, match="file name"):
        VideoWriter(Path("/tmp"), "../evil", expected_size=None)


def test_sidecar_records_provenance_without_data_url_bytes(tmp_path: Path) -> None:
    """The sidecar names local inputs by path and hash and data: URLs only by mime and hash."""
    fox = local_image(tmp_path / "in")
    data_url = "data:image/png;base64," + "QUJD" * 50
    spec = make_spec("fox", FOX, image=fox, seed=7, meta={"shot": "wide"})
    data_spec = make_spec("inline", FOX, image=MediaRef("image", url=data_url), seed=7)
    with Store.open(tmp_path / "run" / JOURNAL_NAME) as store:
        store.add_tasks([spec, data_spec])
        record = store.set_state("fox", TaskState.DONE, task_id="t-1", actual_prompt="longer", cost=0.5)
        path = write_sidecar(tmp_path / "run", spec, record)
        inline = write_sidecar(tmp_path / "run", data_spec, store.record("inline"))
    sidecar = json.loads(path.read_text())
    assert path == tmp_path / "run" / "videos" / "fox.json"
    assert sidecar["request"]["image"] == {
        "path": fox.path,
        "sha256": fox.sha256,
        "size": fox.size,
        "mime": "image/png",
    }
    assert sidecar["task_id"] == "t-1" and sidecar["actual_prompt"] == "longer" and sidecar["cost"] == 0.5
    assert sidecar["runner_version"]
    inline_text = inline.read_text()
    assert "QUJD" not in inline_text
    assert json.loads(inline_text)["request"]["image"] == {
        "data_url": True,
        "mime": "image/png",
        "sha256": hashlib.sha256(data_url.encode()).hexdigest(),
    }
    assert list((tmp_path / "run" / "videos").glob("*.part")) == []


def test_status_table_has_one_row_per_task_in_manifest_order(tmp_path: Path) -> None:
    """status.parquet keeps exact values and types; meta columns are prefixed `meta.`; inputs are
    named by their copies in the run folder (a data: URL's decoded bytes too), URLs as given."""
    with seed_run(tmp_path / "run", tmp_path / "in") as store:
        write_status_table(tmp_path / "run", store)
    frame = pd.read_parquet(tmp_path / "run" / "status.parquet")
    assert list(frame["id"]) == ["fox-1", "fox-2", "owl-1", "owl-2", "remote", "queued"]
    assert list(frame["state"]) == ["done", "done", "failed", "expired", "done", "running"]
    assert frame.loc[2, "error_code"] == "DataInspectionFailed"
    assert frame.loc[0, "meta.shot"] == "wide"
    assert frame.loc[0, "video_path"] == "videos/fox-1.mp4"
    assert int(frame.loc[0, "attempts"]) == 1 and float(frame.loc[0, "cost"]) == 0.25
    assert frame.loc[1, "prompt"].startswith("=HYPERLINK")  # Parquet is not neutralised
    assert frame.loc[4, "img"] == "https://example.com/cat.jpg"
    fox = (tmp_path / "in" / "fox.png").read_bytes()
    assert frame.loc[0, "img_sha256"] == hashlib.sha256(fox).hexdigest()
    assert frame.loc[0, "img"] == f"inputs/{frame.loc[0, 'img_sha256'][:16]}.png"
    assert (tmp_path / "run" / frame.loc[0, "img"]).read_bytes() == fox
    inline = tmp_path / "run" / frame.loc[5, "img"]
    assert frame.loc[5, "img"].startswith("inputs/") and inline.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert frame.loc[5, "img_sha256"] == hashlib.sha256(inline.read_bytes()).hexdigest()
    assert frame["audio"].isna().all()  # no task of the seeded run has audio
    assert frame.loc[0, "source"] == "manifest.yaml:fox-1"


def test_status_table_is_a_typed_dataset_table(tmp_path: Path) -> None:
    """Times are UTC: timestamp[ms, UTC] in Parquet (DashScope's UTC+8 stamps converted), ISO 8601
    with the zone in the CSV; a column with no value at all keeps its type, never a float NaN."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with seed_run(tmp_path / "run", tmp_path / "in") as store:
        write_status_table(tmp_path / "run", store)
    schema = pq.read_schema(tmp_path / "run" / "status.parquet")
    for name in ("submit_time", "scheduled_time", "end_time"):
        assert schema.field(name).type == pa.timestamp("ms", tz="UTC")
    for name in ("negative_prompt", "variant", "audio", "last_frame", "size", "superseded_by"):
        assert pa.types.is_string(schema.field(name).type) or pa.types.is_large_string(
            schema.field(name).type
        )
    assert schema.field("seed").type == pa.int64() and schema.field("with_audio").type == pa.bool_()
    frame = pd.read_parquet(tmp_path / "run" / "status.parquet")
    assert frame.loc[0, "submit_time"] == pd.Timestamp("2026-11-24T13:00:01", tz="UTC")  # 21:00:01 UTC+8
    assert pd.isna(frame.loc[5, "end_time"])  # still running: no end, a typed null
    with (tmp_path / "run" / "status.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["submit_time"] == "2026-11-24T13:00:01.000+00:00"
    assert rows[0]["end_time"] == "2026-11-24T13:01:10.000+00:00"
    assert rows[5]["end_time"] == ""


def test_status_table_is_rewritten_only_when_the_journal_changed(tmp_path: Path) -> None:
    """refresh_status_table leaves a table that shows the journal as it is alone, and rewrites it
    after a transition or when one of its files is gone."""
    run = tmp_path / "run"
    with seed_run(run, tmp_path / "in") as store:
        assert refresh_status_table(run, store)
        written = _mtimes(run)
        assert not refresh_status_table(run, store)
        assert _mtimes(run) == written
        store.transition("queued", Event.SUCCEEDED, video_url="https://oss.example/q.mp4")
        assert refresh_status_table(run, store)
        assert pd.read_parquet(run / "status.parquet").set_index("id").loc["queued", "state"] == "succeeded"
        (run / "status.parquet").unlink()
        assert refresh_status_table(run, store)
        assert (run / "status.parquet").is_file()


@pytest.mark.anyio
async def test_snapshots_during_a_run_leave_the_table_alone_until_a_task_changes(tmp_path: Path) -> None:
    """The writer beside a run rewrites the table when the journal changed, not on every tick."""
    run = tmp_path / "run"
    ticked, tick = anyio.create_memory_object_stream[None]()

    async def offload(write: Callable[[], None]) -> None:  # the engine's, reporting each tick
        await anyio.to_thread.run_sync(write)
        await ticked.send(None)

    with seed_run(run, tmp_path / "in") as store, anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            group.start_soon(StatusWriter(run, store, every=0.001, offload=offload).run)
            await tick.receive()
            written = _files(run)
            for _ in range(3):
                await tick.receive()
            assert _files(run) == written
            store.transition("queued", Event.SUCCEEDED, video_url="https://oss.example/q.mp4")
            await tick.receive()
            assert _files(run) != written
            group.cancel_scope.cancel()
        assert pd.read_parquet(run / "status.parquet").set_index("id").loc["queued", "state"] == "succeeded"


def test_a_slow_snapshot_spaces_out_the_next_ones() -> None:
    """A rewrite of seconds (a table of 100,000 tasks) waits about nine times as long after it,
    so the snapshots of a large run take at most a tenth of a core; small tables keep the interval."""
    assert snapshot_pause(30.0, 0.4) == 30.0
    assert snapshot_pause(30.0, 8.0) == 72.0


def _files(run: Path) -> tuple[int, ...]:
    """The table's files as the file system knows them: a rewrite (a rename) makes new ones."""
    return tuple((run / name).stat().st_ino for name in ("status.csv", "status.parquet"))


def _mtimes(run: Path) -> tuple[int, ...]:
    return tuple((run / name).stat().st_mtime_ns for name in ("status.csv", "status.parquet"))


def test_status_csv_neutralises_formulas(tmp_path: Path) -> None:
    """A CSV cell that a spreadsheet would run as a formula starts with a single quote."""
    with seed_run(tmp_path / "run", tmp_path / "in") as store:
        write_status_table(tmp_path / "run", store)
    with (tmp_path / "run" / "status.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[1]["prompt"].startswith("'=HYPERLINK")
    assert rows[0]["prompt"] == "A red fox runs through fresh snow"
    assert rows[0]["meta.shot"] == "wide"
    assert list((tmp_path / "run").glob("*.part")) == []


@pytest.mark.slow
def test_status_table_handles_100k_tasks_in_seconds(tmp_path: Path) -> None:
    """Writing the table for 100,000 tasks takes a few seconds, not minutes."""
    image = MediaRef("image", url="https://example.com/a.png")
    specs = [make_spec(f"t{i:06d}", FOX, image=image, seed=i, meta={"row": str(i)}) for i in range(100_000)]
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        store.add_tasks(specs)
        started = time.perf_counter()
        write_status_table(tmp_path, store)
        elapsed = time.perf_counter() - started
    assert len(pd.read_parquet(tmp_path / "status.parquet", columns=["id"])) == 100_000
    assert elapsed < 15, f"status table took {elapsed:.1f}s"


def test_remove_stale_parts_counts_what_it_removed(tmp_path: Path) -> None:
    """Leftover .part files of a crashed run are deleted; finished files are kept."""
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.mp4.part").write_bytes(b"x")
    (videos / "a.json.part").write_text("{")
    (tmp_path / "status.csv.part").write_text("id")
    (videos / "b.mp4").write_bytes(minimal_mp4())
    assert remove_stale_parts(tmp_path) == 3
    assert sorted(os.listdir(videos)) == ["b.mp4"]
    assert remove_stale_parts(tmp_path / "missing") == 0


def test_render_summary_names_failures_cost_and_efficiency() -> None:
    """The summary says what was done, what failed by code, the cost with currency, and efficiency."""
    summary = RunSummary(
        total=10,
        done=7,
        failed=2,
        expired=1,
        skipped=3,
        failed_by_code={"DataInspectionFailed": 1, "InternalError": 1},
        cost=1.5,
        currency="USD",
        wall_time_s=185.0,
        efficiency=0.87,
    )
    text = render_summary(summary)
    assert "Done: 7 of 10 tasks (3 already done before this run)." in text
    assert "Failed: 2 (1 DataInspectionFailed, 1 InternalError)." in text
    assert "Expired: 1" in text
    assert "1.50 USD" in text and "3 min 05 s" in text and "87%" in text


def test_render_summary_says_how_to_resume_a_stopped_run() -> None:
    """A run stopped early says why and that running again resumes it."""
    text = render_summary(RunSummary(total=3, unfinished=3, stopped_reason="max-cost"))
    assert "Not finished: 3" in text and "max-cost" in text and "again" in text
