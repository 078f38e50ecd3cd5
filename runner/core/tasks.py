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
    "MediaRef",
    "RunSummary",
    "TaskRecord",
    "TaskSpec",
    "TaskState",
    "canonical_request",
    "task_key",
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
    """An image or audio input: a URL sent as-is, or a local file known by its content hash."""

    kind: Literal["image", "audio"]
    url: str | None = None  #: http(s)://, oss:// or data: URL, sent unchanged
    path: str | None = None  #: absolute path of a local file (never sent as such)
    sha256: str | None = None  #: hex digest of the local file's bytes
    size: int | None = None  #: bytes of the local file
    mime: str | None = None  #: detected from content, e.g. "image/png"

    @property
    def is_local(self) -> bool:
        return self.path is not None

    def canonical(self) -> str:
        """The form that enters the task key: content hash for local files, else the URL."""
        if self.path is not None:
            return f"sha256:{self.sha256}"
        return self.url or ""


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One validated generation request, as the manifest asked for it."""

    id: str
    key: str
    model: str
    image: MediaRef
    prompt: str | None = None
    negative_prompt: str | None = None
    audio: MediaRef | None = None
    #: API parameters after defaults: resolution and duration always present
    parameters: Mapping[str, ParamValue] = field(default_factory=dict)
    variant: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    location: str = ""  #: "file:line" or "file:row N" it came from

    @property
    def resolution(self) -> str:
        return str(self.parameters["resolution"])

    @property
    def duration(self) -> int:
        return int(self.parameters["duration"])

    @property
    def seed(self) -> int | None:
        seed = self.parameters.get("seed")
        return None if seed is None else int(seed)

    def canonical(self) -> dict[str, Any]:
        return canonical_request(
            self.model,
            self.prompt,
            self.negative_prompt,
            self.image,
            self.audio,
            self.parameters,
            self.variant,
        )


def canonical_request(
    model: str,
    prompt: str | None,
    negative_prompt: str | None,
    image: MediaRef,
    audio: MediaRef | None,
    parameters: Mapping[str, ParamValue],
    variant: str | None,
) -> dict[str, Any]:
    """The request as a plain dict, local files replaced by their content hash."""
    inputs: dict[str, Any] = {"img_url": image.canonical()}
    if prompt is not None:
        inputs["prompt"] = prompt
    if negative_prompt is not None:
        inputs["negative_prompt"] = negative_prompt
    if audio is not None:
        inputs["audio_url"] = audio.canonical()
    return {
        "model": model,
        "input": inputs,
        "parameters": dict(parameters),
        "variant": variant,
    }


def task_key(canonical: Mapping[str, Any]) -> str:
    """A stable hex key for a canonical request: same content, same key, whatever the row order."""
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
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
