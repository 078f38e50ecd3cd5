"""`runner export`: a run folder as a Hugging Face dataset, WebDataset shards or JSON lines,
read back with the libraries users load them with and checked against the run's journal."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from factories import local_png, write_manifest
from seeding import seed_run

from runner.cli import main
from runner.cli.export import parse_size
from runner.core import ConfigError, TaskRecord, TaskSpec, TaskState, utc_text
from runner.journal.store import JOURNAL_NAME, Store
from runner.outputs.export import EXPORT_COLUMNS, UndecodableVideo, probe_video
from runner.simulator.outcome import reduced
from runner.simulator.scenes import Scene
from runner.simulator.video import CLIP_FPS, clip_bytes, clip_size

FAST = ["--sim-time-scale", "0.002", "--no-progress"]
IMAGES = {"cat.png": (320, 240), "wide.png": (480, 270)}
MANIFEST = """
name: ds
endpoint: sim
defaults: {resolution: 720P, duration: 5, watermark: false}
tasks:
  - id: cat.v2                    # a dot: a WebDataset key ends at its first dot
    model: wan2.6-i2v-flash
    prompt: "A cat stretches on a roof"
    negative_prompt: "blurry, text"
    img_url: images/cat.png
    seed: 3
    audio: false
    meta: {scene: roof}
  - id: night-train-1             # "train" in an id: the dataset's split must not follow it
    model: wan2.5-i2v-preview
    prompt: "A night train crosses a bridge"
    img_url: images/wide.png
    prompt_extend: true
  - id: lantern
    model: wan2.2-t2v-plus
    prompt: "Paper lanterns drift down a river"
    resolution: 480P
  - id: horse
    model: happyhorse-1.1-t2v
    prompt: "A horse gallops along a beach"
    ratio: "4:5"
  - id: refused
    model: wan2.6-i2v-flash
    prompt: "Forbidden [sim-fail:DataInspectionFailed]"
    img_url: images/cat.png
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished run on the built-in simulator: four videos of four model families and a refusal."""
    root = tmp_path_factory.mktemp("export")
    for name, (width, height) in IMAGES.items():
        local_png(root / "images" / name, width, height)
    result = CliRunner().invoke(main, ["run", str(write_manifest(root, MANIFEST)), "--out", str(root), *FAST])
    assert result.exit_code == 3, result.output  # the refused task
    return root / "ds"


def _journal(run_dir: Path) -> tuple[dict[str, TaskSpec], dict[str, TaskRecord]]:
    with Store.open(run_dir / JOURNAL_NAME) as store:
        return {s.id: s for s in store.specs()}, {r.id: r for r in store.records()}


def _export(run_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["export", str(run_dir), *args])


def _expected_picture(spec: TaskSpec) -> tuple[tuple[int, int], int]:
    """The simulator's own picture size and frame rate for a task (from its public functions)."""
    if "size" in spec.parameters:
        width, _, height = str(spec.parameters["size"]).partition("*")
        ratio = reduced(int(width), int(height))
    elif "ratio" in spec.parameters:
        ratio = str(spec.parameters["ratio"])
    else:
        ratio = reduced(*IMAGES[Path(spec.inputs("first_frame")[0].path or "").name])
    return clip_size(ratio), CLIP_FPS


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_matches_journal(row: dict[str, Any], spec: TaskSpec, record: TaskRecord, video: Path) -> None:
    """A row states its task as the journal has it, its video is the run's, byte for byte, and
    its probed size and frame rate are those of the simulator's clip."""
    assert _sha256(video) == record.video_sha256 == row["video_sha256"]
    assert video.stat().st_size == record.video_size == row["video_size"]
    assert (row["prompt"], row["negative_prompt"], row["model"]) == (
        spec.prompt,
        spec.negative_prompt,
        spec.model,
    )
    assert row["actual_prompt"] == record.actual_prompt and row["task_id"] == record.task_id
    assert row["source"] == spec.location and row["seed"] == spec.parameters.get("seed")
    (width, height), fps = _expected_picture(spec)
    assert (row["width"], row["height"], row["fps"]) == (width, height, fps)
    assert row["frames"] == round(row["video_duration"] * fps) and row["codec"] == "h264"
    assert abs(row["video_duration"] - spec.duration) < 1 / fps


def test_the_simulator_returns_actual_prompt_and_the_status_table_keeps_it(run_dir: Path) -> None:
    """wan2.5 with prompt_extend rewrites the prompt and the table shows it; wan2.6 never returns one."""
    import pandas as pd

    table = pd.read_parquet(run_dir / "status.parquet").set_index("id")
    assert table.loc["night-train-1", "actual_prompt"].startswith("A night train crosses a bridge ")
    assert pd.isna(table.loc["cat.v2", "actual_prompt"])
    assert table.loc["cat.v2", "negative_prompt"] == "blurry, text"
    assert str(table["submit_time"].dtype) == "datetime64[ms, UTC]"


def test_an_hf_export_loads_with_datasets_as_the_run_left_it(run_dir: Path, tmp_path: Path) -> None:
    """`load_dataset("videofolder", data_dir=...)` gives one row per done video, every column, the
    run's bytes and the probed facts; `load_dataset(FOLDER)` and the Parquet table agree."""
    import datasets

    out = tmp_path / "ds-hf"
    result = _export(run_dir, "--format", "hf", "--to", str(out))
    assert result.exit_code == 0, result.output
    assert (
        "Exported 4 rows (4 videos)" in result.output and "1 failed (add --include failed)" in result.output
    )
    again = _export(run_dir, "--format", "hf", "--to", str(tmp_path / "again"), "--json")
    outcome = json.loads(again.output)
    assert (outcome["rows"], outcome["videos"], outcome["failed"], outcome["exit_code"]) == (4, 4, 1, 0)
    assert outcome["format"] == "hf" and outcome["left_out"] == []
    cache = str(tmp_path / "hf-cache")
    loaded = datasets.load_dataset("videofolder", data_dir=str(out), split="train", cache_dir=cache)
    assert set(loaded.column_names) == {"video", *EXPORT_COLUMNS, "meta.scene"}
    assert str(loaded.features["submit_time"]) == "Value('timestamp[ms, tz=UTC]')"
    rows = loaded.cast_column("video", datasets.Video(decode=False))  # decoding would need torchcodec
    specs, records = _journal(run_dir)
    done = [task for task, record in records.items() if record.state is TaskState.DONE]
    assert sorted(rows["id"]) == sorted(done) and len(done) == 4
    for row in rows:
        spec, record = specs[row["id"]], records[row["id"]]
        _assert_matches_journal(row, spec, record, Path(row["video"]["path"]))
        assert row["submit_time"].isoformat(timespec="milliseconds") == utc_text(record.submit_time)
        if spec.inputs("first_frame"):
            image = out / "train" / row["img"]
            assert _sha256(image) == row["img_sha256"] == spec.inputs("first_frame")[0].sha256
    assert rows.filter(lambda row: row["id"] == "cat.v2")[0]["meta.scene"] == "roof"
    by_card = datasets.load_dataset(str(out), split="train", cache_dir=cache)
    assert sorted(by_card["id"]) == sorted(done)
    table = datasets.load_dataset(
        "parquet", data_files=str(out / "train" / "metadata.parquet"), split="train"
    )
    assert sorted(table["file_name"]) == sorted(f"{task}.mp4" for task in done)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "placeholder clips, not model output" in card and "| seed | 3 (1), not sent (3) |" in card
    lines = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    assert all((out / line["file_name"]).is_file() for line in lines)


def test_a_webdataset_export_reads_with_the_webdataset_package(run_dir: Path, tmp_path: Path) -> None:
    """Shards cut at the size given hold {key}.mp4 + {key}.json (+ the first frame) for every done
    task; webdataset reads them back, bytes and rows as the journal says."""
    import webdataset

    out = tmp_path / "ds-wds"
    result = _export(run_dir, "--format", "webdataset", "--to", str(out), "--shard-size", "150KB")
    assert result.exit_code == 0, result.output
    shards = sorted(out.glob("ds-*.tar"))
    assert len(shards) >= 2 and f"ds-{{000000..{len(shards) - 1:06d}}}.tar" in result.output
    marker = json.loads((out / "export.json").read_text())
    assert all(s["bytes"] <= 150_000 for s in marker["shards"])  # a sample is 66-140 kB
    assert max(s["samples"] for s in marker["shards"]) == 2
    specs, records = _journal(run_dir)
    seen = {}
    for sample in webdataset.WebDataset([str(path) for path in shards], shardshuffle=False):
        row = json.loads(sample["json"])
        assert sample["__key__"] == row["id"].replace(".", "%2E")
        video = tmp_path / f"{sample['__key__']}.mp4"
        video.write_bytes(sample["mp4"])
        _assert_matches_journal(row, specs[row["id"]], records[row["id"]], video)
        if specs[row["id"]].inputs("first_frame"):
            assert hashlib.sha256(sample["png"]).hexdigest() == row["img_sha256"]
        seen[row["id"]] = row
    assert sorted(seen) == sorted(task for task, r in records.items() if r.state is TaskState.DONE)


def test_a_jsonl_export_pairs_each_request_with_its_result(run_dir: Path, tmp_path: Path) -> None:
    """One line per task (the refused one too with --include failed): the request, DashScope's
    answer, the video (path, hash, probed facts) or null, and the error or null."""
    out = tmp_path / "ds-jsonl"
    result = _export(run_dir, "--format", "jsonl", "--to", str(out), "--include", "failed")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    specs, records = _journal(run_dir)
    assert [line["custom_id"] for line in lines] == list(records)  # manifest order
    refused = next(line for line in lines if line["custom_id"] == "refused")
    assert refused["video"] is None and refused["error"]["code"] == "DataInspectionFailed"
    cat = next(line for line in lines if line["custom_id"] == "cat.v2")
    assert cat["request"]["parameters"] == dict(specs["cat.v2"].parameters)
    assert cat["response"]["task_id"] == records["cat.v2"].task_id and cat["error"] is None
    assert _sha256(out / cat["video"]["path"]) == records["cat.v2"].video_sha256
    assert (cat["video"]["width"], cat["video"]["height"]) == clip_size(reduced(*IMAGES["cat.png"]))
    assert _sha256(out / cat["request"]["inputs"]["img"]) == cat["request"]["inputs"]["img_sha256"]


def test_failed_rows_join_an_hf_export_only_when_asked(run_dir: Path, tmp_path: Path) -> None:
    """--include failed adds the refused task as a row with its error and no video; the
    videofolder loader still reads the folder."""
    import datasets

    out = tmp_path / "with-failed"
    assert _export(run_dir, "--format", "hf", "--to", str(out), "--include", "failed").exit_code == 0
    loaded = datasets.load_dataset(
        "videofolder", data_dir=str(out), split="train", cache_dir=str(tmp_path / "c")
    )
    rows = {row["id"]: row for row in loaded.cast_column("video", datasets.Video(decode=False))}
    assert rows["refused"]["video"] is None and rows["refused"]["error_code"] == "DataInspectionFailed"
    assert rows["refused"]["state"] == "failed" and len(rows) == 5


def test_a_video_that_does_not_decode_or_was_altered_is_left_out_and_named(tmp_path: Path) -> None:
    """A done video FFmpeg cannot read (though its hash is the journal's) and one altered since
    the run are not exported: the command names each with the reason, exits 3, and the card
    lists them."""
    run = tmp_path / "run"
    with seed_run(run, tmp_path / "in") as store:
        garbage = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x17" * 4000
        (run / "videos" / "fox-2.mp4").write_bytes(garbage)
        store.set_state(
            "fox-2", TaskState.DONE, video_sha256=hashlib.sha256(garbage).hexdigest(), video_size=len(garbage)
        )
    (run / "videos" / "remote.mp4").write_bytes((run / "videos" / "remote.mp4").read_bytes()[:-1] + b"!")
    result = _export(run, "--format", "hf", "--to", str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    assert "Left out: fox-2: videos/fox-2.mp4 does not decode: FFmpeg cannot read it" in result.output
    assert "Left out: remote: videos/remote.mp4 has a SHA-256 that differs" in result.output
    assert "Exported 1 rows (1 videos)" in result.output and "1 not finished" in result.output
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "- fox-2: videos/fox-2.mp4 does not decode" in card and "- remote: videos/remote.mp4" in card
    assert sorted(p.name for p in (tmp_path / "out" / "train").glob("*.mp4")) == ["fox-1.mp4"]


def test_an_export_replaces_only_an_earlier_export(tmp_path: Path) -> None:
    """Exporting again replaces the earlier export whole; a folder holding anything else, the run
    folder itself or a folder inside it is refused with a sentence saying what to do."""
    run = tmp_path / "run"
    seed_run(run, tmp_path / "in").close()
    out = tmp_path / "out"
    assert _export(run, "--format", "jsonl", "--to", str(out)).exit_code == 0
    (out / "stale.txt").write_text("from before")
    assert _export(run, "--format", "hf", "--to", str(out)).exit_code == 0
    assert not (out / "stale.txt").exists() and (out / "train" / "metadata.parquet").is_file()
    assert not list(tmp_path.glob(".out.*"))  # no staging folder left behind
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    for target, words in (
        (other, "not an earlier export"),
        (run, "is the run folder"),
        (run / "x", "inside"),
    ):
        refused = _export(run, "--format", "hf", "--to", str(target))
        assert refused.exit_code == 1 and words in refused.output, refused.output
    assert (other / "notes.txt").read_text() == "keep me"


def test_the_default_target_sits_beside_the_run_folder(tmp_path: Path) -> None:
    """Without --to, `runner export outputs/run --format jsonl` writes outputs/run-jsonl/."""
    run = tmp_path / "run"
    seed_run(run, tmp_path / "in").close()
    result = _export(run, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run-jsonl" / "results.jsonl").is_file()


def test_probing_reads_the_simulators_clip_and_refuses_what_is_not_a_video(tmp_path: Path) -> None:
    """PyAV reads a clip's size, rate, frames, length and codec; bytes that are not a video raise
    UndecodableVideo with FFmpeg's reason."""
    clip = tmp_path / "clip.mp4"
    width, height = clip_size("9:16")
    clip.write_bytes(clip_bytes(Scene(width, height, 2 * CLIP_FPS)))
    facts = probe_video(clip)
    assert (facts.width, facts.height, facts.fps, facts.frames) == (width, height, CLIP_FPS, 2 * CLIP_FPS)
    assert facts.seconds == 2.0 and facts.codec == "h264" and not facts.has_audio
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(UndecodableVideo, match="FFmpeg cannot read it"):
        probe_video(broken)


def test_shard_sizes_are_read_as_people_write_them() -> None:
    """1GB, 500MB, 1.5GiB and plain bytes are sizes; anything else is a usage error."""
    assert parse_size("1GB") == 10**9 and parse_size("500 MB") == 500 * 10**6
    assert parse_size("1.5GiB") == int(1.5 * 2**30) and parse_size("4096") == 4096
    for text in ("big", "-1GB", "1 parsec", "0"):
        with pytest.raises(ConfigError, match="--shard-size"):
            parse_size(text)


def test_a_run_with_nothing_recorded_is_not_exported(tmp_path: Path) -> None:
    """A folder without a journal: one sentence naming it, exit 1, nothing written."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _export(empty, "--format", "hf", "--to", str(tmp_path / "out"))
    assert result.exit_code == 1 and "holds no run" in result.output
    assert not (tmp_path / "out").exists()
    shutil.rmtree(empty)
