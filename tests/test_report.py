"""The HTML report: self-contained, escaped, relative paths, inputs copied once (runner.outputs.report)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import pytest
from data.media_fixtures import wav
from engine_helpers import make_specs, run_batch, sim_app
from factories import local_png, spec
from seeding import seed_run, video_bytes

from runner.core.tasks import MediaItem, MediaRef, TaskState
from runner.journal.store import JOURNAL_NAME, Store
from runner.outputs.report import (
    ReportSnapshots,
    refresh_report,
    report_data,
    script_safe_json,
    write_report,
)
from runner.outputs.videos import INPUTS_DIR


def _embedded(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def _by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["id"]: task for task in data["tasks"]}


def test_report_embeds_every_task_with_relative_paths(tmp_path: Path) -> None:
    """report.html carries each task's data; videos and copied inputs are referenced relatively."""
    run = tmp_path / "run"
    with seed_run(run, tmp_path / "in") as store:
        path = write_report(run, store)
    assert path == run / "report.html"
    tasks = _by_id(_embedded(path.read_text(encoding="utf-8")))
    assert list(tasks) == ["fox-1", "fox-2", "owl-1", "owl-2", "remote", "queued"]
    assert tasks["fox-1"]["video"] == "videos/fox-1.mp4"
    assert tasks["fox-1"]["image"].startswith(f"{INPUTS_DIR}/") and (run / tasks["fox-1"]["image"]).is_file()
    assert tasks["owl-1"]["video"] is None and tasks["owl-1"]["problem"] is True
    assert tasks["owl-1"]["error_code"] == "DataInspectionFailed"
    assert tasks["remote"]["image"] == "https://example.com/cat.jpg"
    assert (run / tasks["queued"]["image"]).read_bytes().startswith(b"\x89PNG")


def test_report_copies_each_distinct_input_once(tmp_path: Path) -> None:
    """Two tasks sharing an input image share one copy in inputs/; a second report copies nothing new."""
    run = tmp_path / "run"
    with seed_run(run, tmp_path / "in") as store:
        write_report(run, store)
        first = sorted(p.name for p in (run / INPUTS_DIR).iterdir())
        tasks = _by_id(report_data(run, store))
    assert tasks["fox-1"]["image"] == tasks["fox-2"]["image"]
    assert len(first) == 3  # fox, owl, and the decoded data: URL image
    assert sorted(p.name for p in (run / INPUTS_DIR).iterdir()) == first


def test_report_escapes_user_text(tmp_path: Path) -> None:
    """A prompt containing </script> cannot end the data block or inject markup."""
    run = tmp_path / "run"
    with seed_run(run, tmp_path / "in") as store:
        page = write_report(run, store).read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page
    assert page.count("</script>") == 2  # the data block and the page script, nothing from the data
    assert _by_id(_embedded(page))["fox-2"]["prompt"].endswith("<script>alert(1)</script>")
    assert script_safe_json({"p": "a</b>&\u2028"}) == '{"p":"a\\u003c/b\\u003e\\u0026\\u2028"}'


def test_report_header_shows_dashes_for_unknown_run_info(tmp_path: Path) -> None:
    """Run facts the engine did not record show as a dash; recorded ones are formatted."""
    run = tmp_path / "run"
    with seed_run(run, tmp_path / "in") as store:
        store.set_meta("wall_time_s", "3725")
        store.set_meta("efficiency", "0.912")
        store.set_meta("finished_at", "1764806400")  # a finished run (its efficiency is shown)
        header = report_data(run, store)["run"]
    assert header["manifest"] == "manifests/demo.yaml"
    assert header["endpoint"] == "—" and header["started_at"] == "—"
    assert header["wall_time"] == "1 h 02 min" and header["efficiency"] == "91%"
    assert header["cost"] == "0.75 USD"
    assert header["counts"] == {"done": 3, "failed": 1, "expired": 1, "running": 1}
    assert header["problems"] == 2


def test_report_omits_missing_videos(tmp_path: Path) -> None:
    """A done task whose file was deleted gets no video source, so the page never points at nothing."""
    run = tmp_path / "run"
    with seed_run(run, tmp_path / "in") as store:
        (run / "videos" / "fox-1.mp4").unlink()
        tasks = _by_id(report_data(run, store))
    assert tasks["fox-1"]["video"] is None and tasks["fox-2"]["video"] == "videos/fox-2.mp4"


def test_report_page_needs_no_network(tmp_path: Path) -> None:
    """The page loads no stylesheet, script or font from elsewhere: everything is inline."""
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        page = write_report(tmp_path, store).read_text(encoding="utf-8")
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)="(https?:)?//', page)
    assert '<link rel="icon" href="data:,">' in page
    assert _embedded(page)["tasks"] == []


def _local(path: Path, data: bytes, kind: Literal["audio", "video"], mime: str) -> MediaRef:
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    return MediaRef(kind, path=str(path), sha256=digest, size=len(data), mime=mime)


def test_report_shows_every_input_under_its_role_and_the_negative_prompt(tmp_path: Path) -> None:
    """First and last frame, two references, a video and audio: each listed in order under its
    role (numbered when a role repeats), local ones copied into inputs/, oss:// named only."""
    run, folder = tmp_path / "run", tmp_path / "in"
    media = (
        MediaItem("first_frame", local_png(folder / "first.png", rgb=(200, 40, 40))),
        MediaItem("last_frame", local_png(folder / "last.png", rgb=(40, 40, 200))),
        MediaItem("reference_image", MediaRef("image", url="https://example.com/ref.jpg")),
        MediaItem("reference_image", MediaRef("image", url="oss://dashscope-instant/abc/cat.png")),
        MediaItem("reference_video", _local(folder / "pan.mp4", video_bytes(), "video", "video/mp4")),
        MediaItem("driving_audio", _local(folder / "beat.wav", wav(1.0), "audio", "audio/wav")),
    )
    task = spec("all-inputs", "A flight", media=media, negative_prompt="blurry, text")
    with Store.open(run / JOURNAL_NAME) as store:
        store.add_tasks([task])
        entry = report_data(run, store)["tasks"][0]
    assert entry["negative_prompt"] == "blurry, text"
    shown = [(i["role"], i["kind"], i["name"]) for i in entry["inputs"]]
    assert shown == [
        ("first frame", "image", "first.png"),
        ("last frame", "image", "last.png"),
        ("reference image 1", "image", "ref.jpg"),
        ("reference image 2", "image", "cat.png"),
        ("reference video", "video", "pan.mp4"),
        ("driving audio", "audio", "beat.wav"),
    ]
    sources = [i["src"] for i in entry["inputs"]]
    assert sources[2] == "https://example.com/ref.jpg" and sources[3] is None
    copied = (sources[0], sources[1], sources[4], sources[5])
    for source, original in zip(copied, ("first.png", "last.png", "pan.mp4", "beat.wav"), strict=True):
        assert source.startswith(f"{INPUTS_DIR}/") and source.endswith(original[-4:])
        assert (run / source).read_bytes() == (folder / original).read_bytes()
    assert entry["image"] == sources[0]


def test_the_report_is_rewritten_only_when_what_it_shows_changed(tmp_path: Path) -> None:
    """A task's change or the run's end rewrites the page; nothing new leaves it alone, and the
    journal remembers what it shows, so a re-run with nothing to do does not rewrite it."""
    run = tmp_path / "run"
    with seed_run(run, tmp_path / "in") as store:
        assert refresh_report(run, store)
        assert not refresh_report(run, store)
        store.set_state("queued", TaskState.FAILED, error_code="InternalError")
        assert refresh_report(run, store)
        store.set_meta("finished_at", "1764806400")
        assert refresh_report(run, store)
        assert not ReportSnapshots(run, store).refresh(store), "a new run's start: nothing changed"


def test_snapshots_beside_the_loop_rewrite_from_a_read_only_connection(tmp_path: Path) -> None:
    """A read-only connection cannot write the journal: the snapshots keep what they last wrote."""
    run = tmp_path / "run"
    with seed_run(run, tmp_path / "in") as store:
        snapshots = ReportSnapshots(run, store)
        assert snapshots.refresh(store)
        reader = Store.open_readonly(run / JOURNAL_NAME)
        assert reader is not None
        with reader:
            assert not snapshots.refresh(reader), "the page shows this journal already"
            store.set_state("queued", TaskState.FAILED, error_code="InternalError")
            assert snapshots.refresh(reader)
            assert not snapshots.refresh(reader)
        page = (run / "report.html").read_text(encoding="utf-8")
    assert _by_id(_embedded(page))["queued"]["state"] == "failed"


@pytest.mark.anyio
async def test_a_run_rewrites_its_report_while_it_goes(tmp_path: Path) -> None:
    """The engine writes report.html at its start and on the status table's schedule (its last
    page is the caller's, `runner run`): what the page shows at the end of an engine run comes
    from a snapshot taken while tasks were finishing."""
    app = sim_app("fast", time_scale=0.002, seed=6)
    batch = await run_batch(tmp_path, make_specs(30), app, status_every=0.005)
    assert batch.summary.done == 30
    tasks = _embedded((tmp_path / "report.html").read_text(encoding="utf-8"))["tasks"]
    assert len(tasks) == 30 and any(task["state"] == "done" for task in tasks)
