"""The rows of an export: which tasks go in, their columns and files, and what is left out.

A row is a done task whose video is as the journal recorded it (size and SHA-256) and
decodes; with `include_failed`, also each task that ended without a video (failed, expired,
cancelled), its probe columns empty. A done video that is missing, altered or undecodable is
left out and listed with the reason. Tasks not finished yet and the earlier versions of
edited tasks are not exported; they are counted. Videos are hashed and probed on a few
threads (hashlib and FFmpeg work outside the GIL).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from runner.core import TaskRecord, TaskSpec, TaskState
from runner.journal import Store
from runner.outputs.export.probe import UndecodableVideo, VideoFacts, probe_video
from runner.outputs.inputs import InputCopies
from runner.outputs.report import PROBLEM_STATES
from runner.outputs.status_rows import status_row
from runner.outputs.verify import video_problem
from runner.outputs.videos import INPUTS_DIR, VIDEOS_DIR

__all__ = [
    "COLUMN_NOTES",
    "EXPORT_COLUMNS",
    "INPUT_COLUMNS",
    "ExportRow",
    "LeftOut",
    "Selection",
    "select_rows",
]

#: each column of an export and what it holds (the dataset card lists them)
COLUMN_NOTES: Final = {
    "id": "the task's id in the manifest",
    "key": "hash of the request (model, inputs by content, parameters, variant)",
    "state": "done; with --include failed also failed, expired or cancelled",
    "prompt": "the prompt as written in the manifest",
    "negative_prompt": "the negative prompt, if any",
    "actual_prompt": "the prompt as the model used it, when the service rewrote it (prompt_extend)",
    "model": "the DashScope model",
    "resolution": "the requested resolution tier (480P, 720P, 1080P)",
    "size": "the requested W*H size (older text-to-video models)",
    "ratio": "the requested aspect ratio (models that take one)",
    "duration": "the requested length in seconds",
    "seed": "the seed sent, if any",
    "variant": "the deliberate re-take this row is, if any",
    "with_audio": "the audio switch sent (empty: the model's default)",
    "audio_setting": "the audio setting sent (video editing)",
    "source": "where the task came from: manifest:line or rows.csv:row N",
    "img": "the first-frame image: its copy (inputs/...) or its URL",
    "img_sha256": "sha256 of the first-frame image's bytes",
    "last_frame": "the last-frame image: its copy or URL",
    "first_clip": "the clip continued: its copy or URL",
    "input_video": "the video edited: its copy or URL",
    "references": "reference images, videos and audio, joined by ' | '",
    "audio": "the driving audio: its copy or URL",
    "audio_sha256": "sha256 of the driving audio's bytes",
    "video_sha256": "sha256 of the video file",
    "video_size": "bytes of the video file",
    "width": "probed: picture width in pixels",
    "height": "probed: picture height in pixels",
    "fps": "probed: average frames per second",
    "frames": "probed: frames in the video stream",
    "video_duration": "probed: length in seconds",
    "codec": "probed: video codec",
    "has_audio": "probed: whether the file has a sound track",
    "task_id": "DashScope's task id",
    "request_id": "DashScope's request id of the create",
    "cost": "what the task cost, in the run's currency",
    "attempts": "submissions it took",
    "submit_time": "when DashScope accepted it (UTC)",
    "scheduled_time": "when DashScope started generating (UTC)",
    "end_time": "when DashScope finished (UTC)",
    "error_code": "why it failed (failed rows)",
    "error_message": "the service's message (failed rows)",
}
EXPORT_COLUMNS: Final = tuple(COLUMN_NOTES)
#: the columns that name inputs: copies (inputs/...) or URLs, several joined by " | "
INPUT_COLUMNS: Final = ("img", "last_frame", "first_clip", "input_video", "references", "audio")
_WORKERS: Final = min(4, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One exported task: its columns, its video and the input copies it names."""

    data: dict[str, Any]  #: EXPORT_COLUMNS then `meta.` columns; JSON values, times as UTC text
    spec: TaskSpec
    record: TaskRecord
    video: Path | None  #: the verified video in the run folder; None for a task without one
    inputs: tuple[str, ...]  #: the copies in the run folder's inputs/ that the row names

    @property
    def sample_key(self) -> str:
        """The id as a WebDataset key: a key ends at its first dot, so dots are escaped."""
        return self.spec.id.replace(".", "%2E")


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A done task whose video is not exported, and why."""

    task: str
    reason: str

    def __str__(self) -> str:
        return f"{self.task}: {self.reason}"


@dataclass(slots=True)
class Selection:
    """The rows to export and what was not."""

    rows: list[ExportRow] = field(default_factory=list)
    meta_columns: list[str] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    not_finished: int = 0  #: tasks planned or in flight
    failed: int = 0  #: tasks that ended without a video, not asked for
    earlier_versions: int = 0  #: earlier versions of edited tasks (`<id>~<key8>`)

    @property
    def columns(self) -> list[str]:
        return [*EXPORT_COLUMNS, *self.meta_columns]


def select_rows(run_dir: Path, store: Store, *, include_failed: bool) -> Selection:
    """The rows of the run folder's export, in manifest order."""
    specs = {spec.id: spec for spec in store.specs()}
    copies = InputCopies(run_dir)
    selection = Selection()
    wanted: list[TaskRecord] = []
    for record in store.records():
        if record.superseded_by is not None:
            selection.earlier_versions += 1
        elif record.state is TaskState.DONE or (include_failed and record.state in PROBLEM_STATES):
            wanted.append(record)
        elif record.state in PROBLEM_STATES:
            selection.failed += 1
        else:
            selection.not_finished += 1
    with ThreadPoolExecutor(_WORKERS) as pool:
        checked = list(pool.map(lambda record: _check(run_dir, record), wanted))
    meta_names: dict[str, None] = {}
    for record, outcome in zip(wanted, checked, strict=True):
        if isinstance(outcome, LeftOut):
            selection.left_out.append(outcome)
            continue
        row = _row(run_dir, specs[record.id], record, copies, outcome)
        meta_names.update(dict.fromkeys(name for name in row.data if name.startswith("meta.")))
        selection.rows.append(row)
    selection.meta_columns = list(meta_names)
    return selection


def _check(run_dir: Path, record: TaskRecord) -> VideoFacts | LeftOut | None:
    """A done task's probed video, or why it is left out; None for a task without a video."""
    if record.state is not TaskState.DONE:
        return None
    problem = video_problem(run_dir, record, full=True)
    if problem is not None:
        return LeftOut(record.id, f"{problem} (`runner run` fetches it again while DashScope keeps it)")
    path = _video_path(run_dir, record)
    try:
        return probe_video(path)
    except UndecodableVideo as exc:
        return LeftOut(record.id, f"{path.relative_to(run_dir)} does not decode: {exc}")


def _row(
    run_dir: Path, spec: TaskSpec, record: TaskRecord, copies: InputCopies, facts: VideoFacts | None
) -> ExportRow:
    status = status_row(spec, record, copies)
    status["input_video"] = status.pop("video")
    data: dict[str, Any] = {name: status.get(name) for name in EXPORT_COLUMNS}
    if facts is not None:
        data |= {
            "width": facts.width,
            "height": facts.height,
            "fps": facts.fps,
            "frames": facts.frames,
            "video_duration": facts.seconds,
            "codec": facts.codec,
            "has_audio": facts.has_audio,
        }
    data |= {f"meta.{name}": value for name, value in spec.meta.items()}
    video = _video_path(run_dir, record) if facts is not None else None
    return ExportRow(data, spec, record, video, tuple(_copies_named(data[c] for c in INPUT_COLUMNS)))


def _video_path(run_dir: Path, record: TaskRecord) -> Path:
    return run_dir / (record.video_path or f"{VIDEOS_DIR}/{record.id}.mp4")


def _copies_named(cells: Iterable[Any]) -> list[str]:
    """The `inputs/...` copies named in these cells (several are joined by " | ")."""
    named = (part for cell in cells if isinstance(cell, str) for part in cell.split(" | "))
    return list(dict.fromkeys(part for part in named if part.startswith(f"{INPUTS_DIR}/")))
