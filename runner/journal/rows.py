"""How the journal keeps its rows: a task's spec and record as columns, an upload as an asset.

Specs are stored as JSON (their MediaRefs included); `usage` and the possible double charges
of a record are JSON columns; every other field is a plain column of the same name.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Final, NamedTuple

from runner.core import MediaItem, MediaRef, TaskRecord, TaskSpec, TaskState

__all__ = [
    "JSON_FIELDS",
    "MUTABLE_FIELDS",
    "RECORD_FIELDS",
    "Asset",
    "DoneVideo",
    "Superseded",
    "spec_from_json",
    "spec_to_json",
    "to_column",
    "to_record",
]

RECORD_FIELDS: Final = tuple(f.name for f in dataclasses.fields(TaskRecord))
JSON_FIELDS: Final = frozenset({"usage", "double_charge_ids"})
MUTABLE_FIELDS: Final = frozenset(RECORD_FIELDS) - {"id", "key", "state", "updated_at"}


class DoneVideo(NamedTuple):
    """What the journal says of a done task's video: enough to check the file, no more."""

    id: str
    video_path: str | None
    video_sha256: str | None
    video_size: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class Superseded:
    """A task whose content the manifest changed: where its earlier version is kept."""

    task: str
    earlier: str | None  #: the earlier version's id; None when it was never sent and is dropped
    state: TaskState  #: the earlier version's state


@dataclasses.dataclass(frozen=True, slots=True)
class Asset:
    """A local file already uploaded to DashScope's temporary storage."""

    sha256: str
    model: str
    url: str  #: oss://… (never a credential)
    expires_at: float  #: epoch seconds
    account: str = ""  #: the account whose key uploaded it (only that account can read it)


def spec_to_json(spec: TaskSpec) -> str:
    return json.dumps(dataclasses.asdict(spec), sort_keys=True, ensure_ascii=False)


def spec_from_json(text: str) -> TaskSpec:
    """A spec as stored; a journal of an earlier version kept `image` and `audio` fields,
    which are its first frame and driving audio."""
    data = json.loads(text)
    media = [MediaItem(item["role"], MediaRef(**item["ref"])) for item in data.pop("media", [])]
    image, audio = data.pop("image", None), data.pop("audio", None)
    if image is not None:
        media.append(MediaItem("first_frame", MediaRef(**image)))
    if audio is not None:
        media.append(MediaItem("driving_audio", MediaRef(**audio)))
    return TaskSpec(**data, media=tuple(media))


def to_column(name: str, value: Any) -> Any:
    if name in JSON_FIELDS and value is not None:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def to_record(row: tuple[Any, ...]) -> TaskRecord:
    data = dict(zip(RECORD_FIELDS, row, strict=True))
    data["state"] = TaskState(data["state"])
    for name in JSON_FIELDS:
        if data[name] is not None:
            data[name] = json.loads(data[name])
    return TaskRecord(**data)
