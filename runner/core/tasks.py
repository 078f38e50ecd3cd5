"""Value types shared by every layer: task specs, states, journal records, run summaries.

A `TaskSpec` is what the manifest asked for, validated and with a stable content
`key`; a `TaskRecord` is what the journal knows about that task's progress.
`id` is always our id (from the manifest); `task_id` is always DashScope's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

__all__ = [
    "TERMINAL_STATES",
    "MediaItem",
    "MediaRef",
    "RunSummary",
    "TaskRecord",
    "TaskSpec",
    "TaskState",
    "canonical_request",
    "task_key",
    "tier_of_size",
]

ParamValue = str | int | bool


class TaskState(StrEnum):
    """Where a task is in its life; values are stored as-is in the journal and tables."""

    PLANNED = "planned"  #: known, never submitted (or to be submitted again)
    SUBMITTING = "submitting"  #: submit intent journalled; the POST may be in flight
    AMBIGUOUS = "ambiguous"  #: the POST may have landed; must be reconciled before resubmitting
    PENDING = "pending"  #: accepted by DashScope, queued
    RUNNING = "running"  #: generating on DashScope
    SUCCEEDED = "succeeded"  #: generated; video not yet on disk
    DOWNLOADING = "downloading"  #: video being fetched to a .part file
    DONE = "done"  #: video on disk, verified, sidecar written
    FAILED = "failed"  #: failed with a code and message
    CANCELLED = "cancelled"  #: cancelled while pending
    EXPIRED = "expired"  #: the task or its video expired before we got it


TERMINAL_STATES = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED, TaskState.EXPIRED})


@dataclass(frozen=True, slots=True)
class MediaRef:
    """An image, audio or video input: a URL sent as-is, or a local file known by its content hash."""

    kind: Literal["image", "audio", "video"]
    url: str | None = None  #: http(s)://, oss:// or data: URL, sent unchanged
    path: str | None = None  #: absolute path of a local file (never sent as such)
    sha256: str | None = None  #: hex digest of the local file's bytes
    size: int | None = None  #: bytes of the local file
    mime: str | None = None  #: detected from content, e.g. "image/png"
    seconds: float | None = None  #: audio and video: the length read from a local file

    @property
    def is_local(self) -> bool:
        return self.path is not None

    def canonical(self) -> str:
        """The form that enters the task key: content hash for local files, else the URL."""
        if self.path is not None:
            return f"sha256:{self.sha256}"
        return self.url or ""


@dataclass(frozen=True, slots=True)
class MediaItem:
    """One input of a task in its role: first_frame, last_frame, driving_audio, first_clip,
    video, reference_image, reference_video or reference_audio (the API's `media[].type`)."""

    role: str
    ref: MediaRef


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One validated generation request, as the manifest asked for it."""

    id: str
    key: str
    model: str
    media: tuple[MediaItem, ...] = ()  #: in the order they are sent
    prompt: str | None = None
    negative_prompt: str | None = None
    #: API parameters after defaults: duration always, resolution or size for the tier
    parameters: Mapping[str, ParamValue] = field(default_factory=dict)
    variant: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    location: str = ""  #: "file:line" it came from (a CSV row: the line it starts on)

    @property
    def image(self) -> MediaRef | None:
        """The image that best stands for the task (its first frame, else its first reference)."""
        for role in ("first_frame", "reference_image", "last_frame"):
            found = self.inputs(role)
            if found:
                return found[0]
        return None

    @property
    def audio(self) -> MediaRef | None:
        """The driving audio track, if the task has one."""
        found = self.inputs("driving_audio")
        return found[0] if found else None

    def inputs(self, role: str) -> tuple[MediaRef, ...]:
        """The inputs of one role, in order."""
        return tuple(item.ref for item in self.media if item.role == role)

    @property
    def resolution(self) -> str:
        """The resolution tier: the `resolution` parameter, or the tier of a `size` like 1280*720."""
        if "resolution" in self.parameters:
            return str(self.parameters["resolution"])
        return tier_of_size(str(self.parameters.get("size", "")))

    @property
    def duration(self) -> int:
        return int(self.parameters["duration"])

    @property
    def seed(self) -> int | None:
        seed = self.parameters.get("seed")
        return None if seed is None else int(seed)

    def canonical(self) -> dict[str, Any]:
        return canonical_request(
            self.model, self.prompt, self.negative_prompt, self.media, self.parameters, self.variant
        )


def tier_of_size(size: str) -> str:
    """The resolution tier of a `W*H` size by its pixel count (480P, 720P or 1080P)."""
    width, _, height = size.partition("*")
    if not (width.isdigit() and height.isdigit()):
        return ""
    pixels = int(width) * int(height)
    return "480P" if pixels <= 500_000 else "720P" if pixels <= 1_100_000 else "1080P"


def canonical_request(
    model: str,
    prompt: str | None,
    negative_prompt: str | None,
    media: tuple[MediaItem, ...],
    parameters: Mapping[str, ParamValue],
    variant: str | None,
) -> dict[str, Any]:
    """The request as a plain dict, local files replaced by their content hash.

    A first frame with at most a driving audio keeps the form of the img_url models
    (`img_url`, `audio_url`), so the keys of their tasks never changed; other media sets
    are listed as (role, input) pairs."""
    inputs: dict[str, Any] = {}
    roles = [item.role for item in media]
    if roles and roles[0] == "first_frame" and set(roles[1:]) <= {"driving_audio"} and len(roles) <= 2:
        inputs["img_url"] = media[0].ref.canonical()
        if len(media) == 2:
            inputs["audio_url"] = media[1].ref.canonical()
    elif media:
        inputs["media"] = [[item.role, item.ref.canonical()] for item in media]
    if prompt is not None:
        inputs["prompt"] = prompt
    if negative_prompt is not None:
        inputs["negative_prompt"] = negative_prompt
    return {
        "model": model,
        "input": inputs,
        "parameters": dict(parameters),
        "variant": variant,
    }


#: one encoder for every key (json.dumps would build one per call with these options)
_KEY_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def task_key(canonical: Mapping[str, Any]) -> str:
    """A stable hex key for a canonical request: same content, same key, whatever the row order."""
    text = _KEY_ENCODER.encode(canonical)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class TaskRecord:
    """What the journal knows about one task."""

    id: str
    key: str
    state: TaskState
    attempts: int = 0
    task_id: str | None = None  #: DashScope's task id of the current attempt
    request_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    submit_time: str | None = None  #: server's clock, as DashScope reports it
    scheduled_time: str | None = None
    end_time: str | None = None
    submitted_at: float | None = None  #: our wall clock (epoch s) when the intent was journalled
    video_url: str | None = None
    video_path: str | None = None  #: relative to the run folder
    video_sha256: str | None = None
    video_size: int | None = None
    cost: float | None = None  #: from actual usage, in the region's currency
    usage: dict[str, Any] | None = None
    actual_prompt: str | None = None
    orig_prompt: str | None = None
    updated_at: float | None = None
    #: DashScope tasks that may have been this task's own and were left unclaimed (each a
    #: possible double charge): an ambiguous create the evidence could not settle
    double_charge_ids: list[str] | None = None
    #: set on an earlier version kept under its own id (`<id>~<key8>`) when the manifest changed
    #: the task's content: the id of the task that replaced it
    superseded_by: str | None = None
    #: the account (of the manifest's `accounts:`) that sent the current attempt; None: the
    #: run's only account
    account: str | None = None


@dataclass(slots=True)
class RunSummary:
    """What one `runner run` achieved, for the final report and the exit code."""

    total: int = 0
    done: int = 0
    failed: int = 0
    expired: int = 0
    cancelled: int = 0
    skipped: int = 0  #: already done before this run started
    unfinished: int = 0  #: still in flight or never submitted when the run stopped
    failed_by_code: dict[str, int] = field(default_factory=dict)
    cost: float = 0.0  #: everything the folder's tasks cost (earlier runs and earlier versions included)
    cost_this_run: float = 0.0
    currency: str = "CNY"
    wall_time_s: float = 0.0
    efficiency: float | None = None
    stopped_reason: str | None = None  #: "interrupted", "max-wall-time", "max-cost", "disk-full", "account"
    reconciled: int = 0  #: ambiguous submissions found on the server and adopted
    resubmitted_after_ambiguity: int = 0  #: ambiguous submissions not found, submitted again
    #: task → DashScope tasks that may have been its own, left unclaimed (the folder's, all runs)
    possible_double_charges: dict[str, list[str]] = field(default_factory=dict)
    #: accounts the service refused during the run (name → why); the others went on
    dropped_accounts: dict[str, str] = field(default_factory=dict)
