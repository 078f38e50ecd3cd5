"""A row's media inputs: the API's `media:` list, its shorthand fields and the older names.

Each input has a role, the API's own `media[].type` (runner.core.MEDIA_ROLES). A row may
write them as the API does,

    media: [{type: first_frame, url: images/a.png}, {type: driving_audio, url: voice.mp3}]

or as one field per role: `first_frame`, `last_frame`, `first_clip`, `video`,
`driving_audio`, and the lists `reference_images`, `reference_videos`, `reference_audios`.
The older families' names are the same roles: `img_url` and `first_frame_url` are a
first_frame, `last_frame_url` a last_frame, `audio_url` a driving_audio, `reference_urls`
entries reference images or videos (by the file's extension). So `img_url` keeps working
when a manifest moves from wan2.6-i2v-flash to wan2.7-i2v. In a CSV cell, a list is
written with `|` between its items.

Inputs leave in a fixed order of roles (first frame first), each role in the order
written: the same inputs give the same task key whichever spelling the row used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from runner.core import MEDIA_ROLES, MODELS, MediaItem, ModelInfo
from runner.manifest.mediarefs import MediaResolver
from runner.manifest.readers import MarkedDict
from runner.manifest.rowvalues import MISSING, Row, one_of, suggest

__all__ = ["MEDIA_FIELDS", "ROLE_NAMES", "Written", "media_items", "written_media"]

#: fields holding one input, and the role it has
_SINGLE: Final = {
    "first_frame": "first_frame",
    "last_frame": "last_frame",
    "first_clip": "first_clip",
    "video": "video",
    "driving_audio": "driving_audio",
    "img_url": "first_frame",
    "first_frame_url": "first_frame",
    "last_frame_url": "last_frame",
    "audio_url": "driving_audio",
}
#: fields holding a list of inputs of one role
_LISTS: Final = {
    "reference_images": "reference_image",
    "reference_videos": "reference_video",
    "reference_audios": "reference_audio",
}
MEDIA_FIELDS: Final = ("media", *_SINGLE, *_LISTS, "reference_urls")
#: how a role reads in a sentence
ROLE_NAMES: Final = {
    "first_frame": "a first frame",
    "last_frame": "a last frame",
    "first_clip": "a first clip",
    "video": "a video to edit",
    "reference_image": "reference images",
    "reference_video": "reference videos",
    "reference_audio": "reference audio",
    "driving_audio": "a driving audio track",
}
_VIDEO_EXTENSIONS: Final = (".mp4", ".mov")
#: where each role goes in a task's inputs; references keep the order written across their
#: kinds, since wan2.6 r2v's prompts name them by place ("character1", "character2")
_ORDER: Final = {
    role: MEDIA_ROLES.index("reference_image" if "reference" in role else role) for role in MEDIA_ROLES
}


@dataclass(frozen=True, slots=True)
class Written:
    """One input as the row wrote it: its role, its raw value, the field shown in messages."""

    role: str
    value: object
    field: str  #: "img_url", "reference_images[2]", "media[1]"
    where: str  #: file:line of the value


def written_media(row: Row) -> list[Written]:
    """Every media input the row gives, whatever the spelling; a role given by two fields is a problem."""
    found: list[Written] = []
    source: dict[str, str] = {}
    for name in MEDIA_FIELDS:
        value = row.get(name)
        if value is MISSING:
            continue
        items = _field_items(row, name, value)
        for role in dict.fromkeys(item.role for item in items):
            if role in source and source[role] != name:
                row.fail(
                    name, f"{ROLE_NAMES[role]} is given twice, by {source[role]} and by {name}; keep one."
                )
                return []
            source[role] = name
        found += items
    return found


def media_items(
    row: Row, model: ModelInfo, written: list[Written], resolver: MediaResolver
) -> tuple[MediaItem, ...]:
    """The inputs resolved and checked for `model`, in role order; problems go to the row."""
    items: list[MediaItem] = []
    for item in written:
        rule = model.rule(item.role)
        if rule is None:
            _not_taken(row, model, item)
            continue
        if not isinstance(item.value, str):
            row.fail(item.field, f"must be a URL or a file path, got {item.value!r}.", where=item.where)
            continue
        ref, problem = resolver.resolve(item.value.strip(), row.place, rule, model.name)
        if problem is not None:
            row.fail(item.field, problem, where=item.where)
        elif ref is not None:
            items.append(MediaItem(item.role, ref))
    return tuple(sorted(items, key=lambda item: _ORDER[item.role]))


def _not_taken(row: Row, model: ModelInfo, item: Written) -> None:
    """An input the model has no role for: an error, or a warning when it came from the defaults."""
    field = item.field.split("[", 1)[0]
    if field in row.defaulted:
        row.warn(f"`{field}` from the defaults is ignored for {model.name}, which takes no {item.role}.")
        return
    takes = model.family.roles()
    has = f"its inputs are {one_of(takes)}" if takes else "it takes no media (text-to-video)"
    takers = [m.name for m in MODELS.values() if m.rule(item.role) is not None]
    others = f" Models that take {item.role}: {', '.join(takers[:5])}." if takers else ""
    row.fail(item.field, f"{model.name} takes no {item.role}; {has}.{others}", where=item.where)


def _field_items(row: Row, name: str, value: object) -> list[Written]:
    where = row.where(name)
    if name in _SINGLE:
        return [Written(_SINGLE[name], value, name, where)]
    if name == "media":
        return _media_list(row, value, where)
    values = _as_list(value)
    if name == "reference_urls":
        return [Written(_reference_role(v), v, f"{name}[{i}]", where) for i, v in enumerate(values, 1)]
    return [Written(_LISTS[name], v, f"{name}[{i}]", where) for i, v in enumerate(values, 1)]


def _media_list(row: Row, value: object, where: str) -> list[Written]:
    """The API's own `media:` list: mappings of `type` and `url`."""
    if not isinstance(value, list):
        row.fail("media", f"must be a list of {{type, url}} mappings, got {value!r}.")
        return []
    found = []
    for index, entry in enumerate(value, 1):
        name = f"media[{index}]"
        at = where  # a default's entry: the defaults' `media:` line
        if isinstance(entry, MarkedDict) and (entry.line or entry.where) and "media" not in row.defaulted:
            at = entry.place(row.place.file)
        if not isinstance(entry, Mapping) or set(entry) - {"type", "url"} or "url" not in entry:
            row.fail(name, f"must be a mapping of type and url, got {entry!r}.", where=at)
            continue
        role = str(entry.get("type", "")).strip()
        if role not in MEDIA_ROLES:
            hint = suggest(role, list(MEDIA_ROLES)) or f" Types: {', '.join(MEDIA_ROLES)}."
            row.fail(name, f"unknown media type {role!r}.{hint}", where=at)
            continue
        found.append(Written(role, entry["url"], name, at))
    return found


def _as_list(value: object) -> list[object]:
    """A YAML list as is; a CSV cell's text split at `|`."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    return [value]


def _reference_role(value: object) -> str:
    text = str(value).split("?", 1)[0].lower()
    return "reference_video" if text.endswith(_VIDEO_EXTENSIONS) else "reference_image"
