"""What one task is as a row of data: the status table's columns, shared by the exports.

A row holds the request (model, parameters, prompts, where in the manifest it came from),
its inputs, what DashScope did with it and the video it left. Inputs are named by their
copies in `inputs/` (runner.outputs.inputs), relative to the run folder; an http(s) input by
its URL. Server times are ISO 8601 in UTC (runner.core.servertime); the journal keeps them as
DashScope wrote them.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from runner.core import MediaRef, TaskRecord, TaskSpec, utc_text
from runner.journal import Store
from runner.outputs.inputs import InputCopies

__all__ = ["STATUS_COLUMNS", "TIME_COLUMNS", "media_label", "status_row", "status_rows"]

STATUS_COLUMNS: Final = (
    "id",
    "key",
    "state",
    "attempts",
    "error_code",
    "error_message",
    "task_id",
    "request_id",
    "account",
    "model",
    "resolution",
    "size",
    "ratio",
    "duration",
    "seed",
    "variant",
    "with_audio",
    "audio_setting",
    "prompt",
    "negative_prompt",
    "actual_prompt",
    "img",
    "img_sha256",
    "last_frame",
    "first_clip",
    "video",
    "references",
    "audio",
    "audio_sha256",
    "source",
    "submit_time",
    "scheduled_time",
    "end_time",
    "cost",
    "video_path",
    "video_sha256",
    "video_size",
    "double_charge_task_ids",
    "superseded_by",
)
TIME_COLUMNS: Final = ("submit_time", "scheduled_time", "end_time")
_REFERENCES: Final = ("reference_image", "reference_video", "reference_audio")


def status_rows(store: Store, copies: InputCopies) -> tuple[list[dict[str, Any]], list[str]]:
    """Every task as a dict of status columns (manifest order) and the `meta.` column names."""
    specs = {spec.id: spec for spec in store.specs()}
    rows: list[dict[str, Any]] = []
    meta_names: dict[str, None] = {}
    for record in store.records():
        spec = specs[record.id]
        row = status_row(spec, record, copies)
        for name, value in spec.meta.items():
            column = f"meta.{name}"
            meta_names.setdefault(column)
            row[column] = value
        rows.append(row)
    return rows, list(meta_names)


def status_row(spec: TaskSpec, record: TaskRecord, copies: InputCopies) -> dict[str, Any]:
    """One task's status columns (without its meta columns)."""
    inputs = _Inputs(spec, copies)
    return {
        "id": record.id,
        "key": record.key,
        "state": record.state.value,
        "attempts": record.attempts,
        "error_code": record.error_code,
        "error_message": record.error_message,
        "task_id": record.task_id,
        "request_id": record.request_id,
        "account": record.account,
        "model": spec.model,
        "resolution": spec.resolution or None,
        "size": spec.parameters.get("size"),
        "ratio": spec.parameters.get("ratio"),
        "duration": spec.parameters.get("duration"),
        "seed": spec.parameters.get("seed"),
        "variant": spec.variant,
        "with_audio": spec.parameters.get("audio"),  # the `audio` switch: a silent video when false
        "audio_setting": spec.parameters.get("audio_setting"),
        "prompt": spec.prompt,
        "negative_prompt": spec.negative_prompt,
        "actual_prompt": record.actual_prompt,  # the prompt as the model used it (prompt_extend)
        "img": inputs.labels("first_frame"),
        "img_sha256": inputs.first_sha256("first_frame"),
        "last_frame": inputs.labels("last_frame"),
        "first_clip": inputs.labels("first_clip"),
        "video": inputs.labels("video"),
        "references": inputs.labels(*_REFERENCES),
        "audio": inputs.labels("driving_audio"),
        "audio_sha256": inputs.first_sha256("driving_audio"),
        "source": spec.location or None,  # manifest:line or rows.csv:row N
        "submit_time": utc_text(record.submit_time),
        "scheduled_time": utc_text(record.scheduled_time),
        "end_time": utc_text(record.end_time),
        "cost": record.cost,
        "video_path": record.video_path,
        "video_sha256": record.video_sha256,
        "video_size": record.video_size,
        # DashScope tasks that may have been this one's own, left unclaimed: possible double charges
        "double_charge_task_ids": " ".join(record.double_charge_ids or []) or None,
        "superseded_by": record.superseded_by,  # an earlier version the manifest's edit set aside
    }


def media_label(media: MediaRef) -> str:
    """An input's original name: its path, its URL, or for a data: URL its mime and hash."""
    if media.path is not None:
        return media.path
    url = media.url or ""
    if url.startswith("data:"):
        mime = url[5:].split(";", 1)[0].split(",", 1)[0] or "unknown"
        return f"data:{mime};sha256={hashlib.sha256(url.encode()).hexdigest()}"
    return url


class _Inputs:
    """A task's inputs as table cells: copies in `inputs/` where there are some."""

    def __init__(self, spec: TaskSpec, copies: InputCopies) -> None:
        self._spec = spec
        self._copies = copies

    def labels(self, *roles: str) -> str | None:
        """The inputs of `roles`, joined by " | " (None when there are none): each by its copy,
        else (a remote URL, an input gone with no copy) by its original name."""
        labels = [self._label(item.ref) for item in self._spec.media if item.role in roles]
        return " | ".join(labels) or None

    def first_sha256(self, role: str) -> str | None:
        """The sha256 of the bytes of the role's first input, when they are known."""
        found = self._spec.inputs(role)
        if not found:
            return None
        copy = self._copies.copy_of(found[0])
        return copy.sha256 if copy is not None else found[0].sha256

    def _label(self, media: MediaRef) -> str:
        copy = self._copies.copy_of(media)
        return copy.path if copy is not None else media_label(media)
