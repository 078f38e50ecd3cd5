"""The DashScope wire as runner reads and writes it: request bodies and what answers hold.

Plain values, no I/O: the create body for a spec, the status of a task, a row of the task
list, an open video stream. docs/dashscope-api.md describes the fields.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from runner.core import FAMILIES, Family, TaskSpec, get_model

__all__ = [
    "ListPage",
    "ListedTask",
    "ResolvedInputs",
    "Submitted",
    "TaskStatus",
    "VideoStream",
    "build_create_body",
    "create_path",
    "int_or",
    "is_task_id",
    "listed_task",
    "needs_oss_resolve",
    "opt_str",
]

_TASK_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


@dataclass(frozen=True, slots=True)
class VideoStream:
    """An open video download: where its bytes begin in the video, the video's size, the bytes."""

    offset: int
    size: int | None  #: the whole video's size (Content-Length, or a range's total), if announced
    chunks: AsyncIterator[bytes]


@dataclass(frozen=True, slots=True)
class ResolvedInputs:
    """A task's media as they go on the wire: (role, URL) in the spec's order, local files
    already data: or oss:// URLs."""

    media: tuple[tuple[str, str], ...] = ()

    @classmethod
    def first_frame(cls, image: str, audio: str | None = None) -> ResolvedInputs:
        """The inputs of a first-frame task (with a driving audio track, if any)."""
        audio_item = (("driving_audio", audio),) if audio is not None else ()
        return cls((("first_frame", image), *audio_item))

    def urls(self, *roles: str) -> list[str]:
        """The URLs of the given roles (of every role when none is named), in order."""
        return [url for role, url in self.media if not roles or role in roles]


@dataclass(frozen=True, slots=True)
class Submitted:
    """A create request the server accepted."""

    task_id: str
    request_id: str | None
    status: str


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """What GET /tasks/{id} says about one task."""

    task_id: str
    status: str  #: PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED or UNKNOWN
    request_id: str | None = None
    submit_time: str | None = None  #: server clock, "YYYY-MM-DD HH:MM:SS.mmm", no zone
    scheduled_time: str | None = None
    end_time: str | None = None
    video_url: str | None = None
    usage: dict[str, Any] | None = None
    orig_prompt: str | None = None
    actual_prompt: str | None = None
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ListedTask:
    """One row of the task list (GET /tasks): times are epoch milliseconds."""

    task_id: str
    status: str
    model_name: str | None
    gmt_create_ms: int | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of the task list."""

    tasks: tuple[ListedTask, ...]
    page_no: int
    total_page: int
    total: int


def build_create_body(spec: TaskSpec, inputs: ResolvedInputs) -> dict[str, Any]:
    """The JSON body of a create request for `spec`, in its family's shape (docs/dashscope-api.md)."""
    body_input: dict[str, Any] = {}
    if spec.prompt is not None:
        body_input["prompt"] = spec.prompt
    if spec.negative_prompt is not None:
        body_input["negative_prompt"] = spec.negative_prompt
    body_input.update(_media_fields(_family(spec), inputs))
    return {"model": spec.model, "input": body_input, "parameters": dict(spec.parameters)}


def create_path(spec: TaskSpec) -> str:
    """The create endpoint, relative to the API base: kf2v models have their own path."""
    return f"services/aigc/{_family(spec).path}/video-synthesis"


def _family(spec: TaskSpec) -> Family:
    model = get_model(spec.model)
    return model.family if model is not None else FAMILIES["i2v-audio"]


def _media_fields(family: Family, inputs: ResolvedInputs) -> dict[str, Any]:
    """The `input` fields carrying the media: one field per input, a list, or `media[]`."""
    fields: dict[str, Any] = {}
    if family.shape == "media":
        if inputs.media:
            fields["media"] = [{"type": role, "url": url} for role, url in inputs.media]
        return fields
    if family.shape == "reference_urls":
        fields["reference_urls"] = inputs.urls("reference_image", "reference_video")
        return fields
    names = _FIELD_OF_ROLE["first_last_url" if family.shape == "first_last_url" else "img_url"]
    for role, url in inputs.media:
        fields[names[role]] = url
    return fields


#: the per-input fields of the older shapes
_FIELD_OF_ROLE: Final = {
    "img_url": {"first_frame": "img_url", "driving_audio": "audio_url"},
    "first_last_url": {"first_frame": "first_frame_url", "last_frame": "last_frame_url"},
}


def needs_oss_resolve(inputs: ResolvedInputs) -> bool:
    """True when the body references temporary storage: the service reads oss:// only when told to."""
    return any(url.startswith("oss://") for url in inputs.urls())


def is_task_id(text: str) -> bool:
    """Whether `text` can be a DashScope task id: a UUID-like word, never a path."""
    return _TASK_ID.fullmatch(text) is not None


def listed_task(row: Mapping[str, Any]) -> ListedTask:
    created = row.get("gmt_create")
    return ListedTask(
        task_id=str(row["task_id"]),
        status=str(row.get("status") or row.get("task_status") or "UNKNOWN"),
        model_name=opt_str(row.get("model_name")),
        gmt_create_ms=int(created) if isinstance(created, int | float) else None,
        request_id=opt_str(row.get("request_id")),
    )


def opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
