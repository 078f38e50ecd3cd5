"""Input extraction: every body shape's media fields as one list of typed items, and the set rules.

The families name their inputs differently (img_url; first_frame_url and last_frame_url;
audio_url; reference_urls[]; media[]). Each is read here into `Item`s typed with the API's
own media[] names (img_url is a first_frame, audio_url a driving_audio, ...), so the content
checks (probe.py) and the output plan (outcome.py) see one form.

Which types a family takes, how many and in which combinations are the request's structure:
breaking them is refused at submission whatever `validation_at` says, like a missing image.
An input field of another family's shape is a parameter problem, like `audio_url` on a
model without audio input always was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from runner.simulator.errors import ApiError, ParameterProblem, Problem, invalid, missing, refusal
from runner.simulator.families import FRAMES, REFERENCES, Family
from runner.simulator.models import ModelSpec

__all__ = ["Item", "extract_items"]

#: True when an oss:// upload holds a video (r2v-2.6 judges reference_urls by content)
IsVideo = Callable[[str], bool]

_FIELDS = ("img_url", "first_frame_url", "last_frame_url", "audio_url", "reference_urls", "media")
_SHAPE_FIELDS = {
    "img_url": ("img_url",),
    "first_last": ("first_frame_url", "last_frame_url"),
    "plain": (),
    "reference_urls": ("reference_urls",),
    "media": ("media",),
}
_REFERENCE_COUNTED = frozenset({"reference_image", "reference_video"})


@dataclass(frozen=True)
class Item:
    """One input: its media type, its URL and the body field it came from (for messages)."""

    type: str  # a media[] type, or reference_voice
    url: str
    field: str


def extract_items(spec: ModelSpec, inputs: dict[str, Any], is_video: IsVideo) -> list[Item]:
    """The request's inputs in order; raise ApiError (structure) or ParameterProblem (foreign field)."""
    rules = spec.rules
    if rules.shape == "img_url":
        items = [_required(inputs, "img_url", "first_frame")]
    elif rules.shape == "first_last":
        items = [_required(inputs, "first_frame_url", "first_frame")]
        items += _optional(inputs, "last_frame_url", "last_frame")
    elif rules.shape == "reference_urls":
        items = _reference_urls(inputs.get("reference_urls"), is_video)
    elif rules.shape == "media":
        items = _media_list(spec, inputs.get("media"))
    else:
        items = []
    if spec.audio_url:
        items += _optional(inputs, "audio_url", "driving_audio")
    if rules.shape in ("media", "reference_urls"):
        _check_sets(spec, [item.type for item in items if item.type != "reference_voice"])
    _refuse_foreign_fields(spec, inputs)
    return items


def _refuse_foreign_fields(spec: ModelSpec, inputs: dict[str, Any]) -> None:
    """An input field of another shape (img_url on wan2.7, media on a t2v model, ...)."""
    own = _SHAPE_FIELDS[spec.rules.shape] + (("audio_url",) if spec.audio_url else ())
    for field in _FIELDS:
        if field not in own and inputs.get(field) is not None:
            takes = ", ".join(own) if own else "only a prompt"
            text = f"{missing(field).message} {spec.name} takes no {field} (its inputs: {takes})."
            raise ParameterProblem(Problem("InvalidParameter", text))


def _required(inputs: dict[str, Any], field: str, kind: str) -> Item:
    value = inputs.get(field)
    if not isinstance(value, str) or not value:
        raise refusal(missing(field))
    return Item(kind, value, field)


def _optional(inputs: dict[str, Any], field: str, kind: str) -> list[Item]:
    value = inputs.get(field)
    if value is None:
        return []
    return [_required(inputs, field, kind)]


def _reference_urls(value: Any, is_video: IsVideo) -> list[Item]:
    """wan2.6 r2v: a list of URLs, videos told apart by extension (uploads by content)."""
    if not isinstance(value, list) or not value:
        raise refusal(missing("reference_urls"))
    items = []
    for index, url in enumerate(value):
        field = f"reference_urls[{index}]"
        if not isinstance(url, str) or not url:
            raise refusal(missing(field))
        items.append(
            Item("reference_video" if _looks_like_video(url, is_video) else "reference_image", url, field)
        )
    return items


def _looks_like_video(url: str, is_video: IsVideo) -> bool:
    if url.startswith("oss://"):
        return is_video(url)
    if url.startswith("data:"):
        return False
    return urlsplit(url).path.lower().endswith((".mp4", ".mov"))


def _media_list(spec: ModelSpec, value: Any) -> list[Item]:
    """`input.media`: a list of {type, url} objects (wan2.7 r2v items may add reference_voice)."""
    if value is None and spec.rules.prompt == "or_media":
        return []
    if not isinstance(value, list) or not value:
        raise refusal(missing("media"))
    items = []
    for index, entry in enumerate(value):
        where = f"media[{index}]"
        if not isinstance(entry, dict):
            raise refusal(missing(where))
        kind = entry.get("type")
        if not isinstance(kind, str) or not kind:
            raise refusal(missing(f"{where}.type"))
        if kind not in spec.rules.most:
            allowed = ", ".join(spec.rules.most)
            raise refusal(invalid(f"{where}.type", kind, f"{spec.name} takes media of type {allowed}"))
        url = entry.get("url")
        if not isinstance(url, str) or not url:
            raise refusal(missing(f"{where}.url"))
        items.append(Item(kind, url, f"{where}.url"))
        items += _voice(spec, entry, where)
    return items


def _voice(spec: ModelSpec, entry: dict[str, Any], where: str) -> list[Item]:
    voice = entry.get("reference_voice")
    if voice is None:
        return []
    field = f"{where}.reference_voice"
    if not spec.rules.reference_voice:
        text = f"{missing(field).message} {spec.name} takes no reference_voice."
        raise ParameterProblem(Problem("InvalidParameter", text))
    if not isinstance(voice, str) or not voice:
        raise refusal(missing(field))
    return [Item("reference_voice", voice, field)]


def _check_sets(spec: ModelSpec, types: list[str]) -> None:
    """Per-type counts, the allowed combinations, the reference count, the exclusive modes."""
    rules = spec.rules
    for kind in dict.fromkeys(types):
        count, most = types.count(kind), rules.most[kind]
        if count > most:
            raise refusal(invalid("media", f"{count} × {kind}", f"{spec.name} takes at most {most}"))
    present = frozenset(types)
    if rules.media_sets and present not in rules.media_sets:
        allowed = ", ".join(_combination(s) for s in rules.media_sets)
        got = _combination(present) or "no media"
        raise refusal(invalid("media", got, f"{spec.name} allows {allowed}"))
    _check_references(spec, rules, types)
    if rules.exclusive and present & FRAMES and present & REFERENCES:
        raise ApiError(
            400,
            "InvalidParameter",
            "The two modes are mutually exclusive: first_frame/last_frame cannot be combined with "
            f"reference_image/reference_video/reference_audio (got {_combination(present)}).",
        )


def _check_references(spec: ModelSpec, rules: Family, types: list[str]) -> None:
    if rules.references is None:
        return
    fewest, most = rules.references
    count = sum(1 for kind in types if kind in _REFERENCE_COUNTED)
    if not fewest <= count <= most:
        rule = f"{spec.name} takes {fewest} to {most} references (reference images and videos)"
        raise refusal(invalid("media" if rules.shape == "media" else "reference_urls", count, rule))


def _combination(types: frozenset[str]) -> str:
    """A set of media types as the docs write it: first_frame+last_frame."""
    order = ("first_frame", "first_clip", "video", "last_frame", "reference_image", "reference_video",
             "reference_audio", "driving_audio")  # fmt: skip
    return "+".join(kind for kind in order if kind in types)
