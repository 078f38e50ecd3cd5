"""A row's inputs taken together: the combinations of media, prompt and parameters a family allows.

Each input alone was checked against its role's limits (runner.manifest.mediafields);
here the whole set is: which media sets the family accepts, how many references, which
modes exclude each other, whether a prompt is needed, how long reference media may be in
all, and the parameters that depend on the media (a ratio next to a first frame, the
duration with a reference video or a first clip). Each rule is data in
runner.core.families; this module only reads it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from runner.core import MEDIA_ROLES, MediaItem, ModelInfo, ParamValue
from runner.manifest.mediafields import Written
from runner.manifest.rowvalues import Row, one_of

__all__ = ["check_combination"]

_REFERENCES = ("reference_image", "reference_video", "reference_audio")


def check_combination(
    row: Row,
    model: ModelInfo,
    media: tuple[MediaItem, ...],
    written: list[Written],
    has_prompt: bool,
    params: dict[str, ParamValue],
) -> None:
    """Record every problem with the row's inputs taken together; adjust what a default set wrongly."""
    label = _fields_label(written)
    roles = [item.role for item in media]
    if not _media_set_allowed(row, model, roles, label) or not _counts_allowed(row, model, roles, label):
        return
    _prompt_present(row, model, has_prompt, bool(media))
    _reference_totals(row, model, media, label)
    _ratio_with_frame(row, model, roles, params)
    _duration_with_media(row, model, media, params)
    if params.get("audio") is False and "driving_audio" in roles:
        row.warn(
            f"{row.place.where(None)}: the driving audio is ignored because audio is false (a silent video)."
        )


def _media_set_allowed(row: Row, model: ModelInfo, roles: list[str], label: str) -> bool:
    family = model.family
    present = frozenset(roles)
    if family.media_sets is None or present in family.media_sets:
        return True
    sets = family.media_sets
    if not present and all("first_frame" in s for s in sets):
        field = "img_url" if family.shape == "img_url" else "first_frame"
        row.fail(field, "every task needs a first-frame image: an http(s) URL, a data: URL or a file path.")
        return False
    accepted = one_of([_set_text(s) for s in sets])
    got = _set_text(present) if present else "no media"
    row.fail(label or "media", f"{model.name} accepts {accepted}; got {got}.", where=_where(row, label))
    return False


def _counts_allowed(row: Row, model: ModelInfo, roles: list[str], label: str) -> bool:
    for role in dict.fromkeys(roles):
        rule = model.rule(role)
        count = roles.count(role)
        if rule is not None and count > rule.most:
            row.fail(
                label,
                f"{model.name} takes at most {rule.most} {role}; got {count}.",
                where=_where(row, label),
            )
            return False
    ok = True
    family = model.family
    references = sum(role in _REFERENCES for role in roles)
    if family.references is not None and not family.references[0] <= references <= family.references[1]:
        fewest, most = family.references
        row.fail(
            label or "reference_images",
            f"{model.name} needs {fewest} to {most} reference images and videos in all; got {references}.",
            where=_where(row, label),
        )
        ok = False
    for group in family.exclusive:
        mixed = sorted(set(roles) - group, key=MEDIA_ROLES.index)
        if mixed and set(roles) & group:
            given = sorted(set(roles) & group, key=MEDIA_ROLES.index)
            row.fail(
                label,
                f"{model.name} cannot mix {', '.join(given)} with {', '.join(mixed)}: the two modes "
                "are mutually exclusive.",
                where=_where(row, label),
            )
            return False
    return ok


def _prompt_present(row: Row, model: ModelInfo, has_prompt: bool, has_media: bool) -> None:
    family = model.family
    if has_prompt:
        return
    if family.prompt_required:
        row.fail("prompt", f"{model.name} needs a prompt: the video is made from its text.")
    elif family.prompt_or_media and not has_media:
        row.fail("prompt", f"{model.name} needs a prompt, media, or both; the task gives neither.")


def _reference_totals(row: Row, model: ModelInfo, media: tuple[MediaItem, ...], label: str) -> None:
    """Reference videos and audio longer in all than the family allows (where their lengths are known)."""
    for role in ("reference_video", "reference_audio"):
        rule = model.rule(role)
        if rule is None or not rule.total_s:
            continue
        total = sum(item.ref.seconds or 0.0 for item in media if item.role == role)
        if total > rule.total_s:
            row.fail(
                label,
                f"the {role.replace('_', ' ')}s last {total:.1f} seconds in all; {model.name} takes at most "
                f"{rule.total_s:g} seconds of them.",
                where=_where(row, label),
            )


def _ratio_with_frame(row: Row, model: ModelInfo, roles: list[str], params: dict[str, ParamValue]) -> None:
    """A ratio has no effect next to a first frame: the video takes the frame's aspect."""
    ratio = params.get("ratio")
    if ratio is None or ratio == "adaptive" or "first_frame" not in roles:
        return
    if "ratio" in row.defaulted:
        del params["ratio"]
        return
    row.fail(
        "ratio",
        f"{model.name} ignores ratio {ratio} when a first frame is given (the video takes the "
        "frame's aspect); remove ratio or the first frame.",
    )


def _duration_with_media(
    row: Row, model: ModelInfo, media: tuple[MediaItem, ...], params: Mapping[str, ParamValue]
) -> None:
    duration = params.get("duration")
    if not isinstance(duration, int) or isinstance(duration, bool):
        return
    roles = {item.role for item in media}
    longest = model.family.duration_with_video
    if longest and "reference_video" in roles and duration > longest:
        row.fail(
            "duration",
            f"with a reference video, {model.name} allows at most {longest} seconds; got {duration}.",
        )
    clip = next((item.ref.seconds for item in media if item.role == "first_clip"), None)
    if clip is not None and duration < clip:
        row.fail(
            "duration",
            f"with a first clip, duration is the whole video's length, clip included: the clip is "
            f"{clip:.1f} seconds, so duration must be at least {math.ceil(clip)}; got {duration}.",
        )


def _set_text(roles: frozenset[str]) -> str:
    return " + ".join(sorted(roles, key=MEDIA_ROLES.index)) if roles else "no media"


def _fields_label(written: list[Written]) -> str:
    """The media fields the row used, as it spelled them ("img_url", "media")."""
    return ", ".join(dict.fromkeys(item.field.split("[", 1)[0] for item in written))


def _where(row: Row, label: str) -> str:
    return row.place.where(label.split(", ", 1)[0] if label else None)
