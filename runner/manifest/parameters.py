"""A row's API parameters: checked against its model, defaults filled in.

Every model gets `duration`; a model reads the picture's size either as a `resolution`
tier (plus a `ratio` where its family has one) or as a legacy `size` like 1280*720. The
two spellings convert into each other where the sizes are documented, so a manifest
switches between wan2.6-t2v (size) and wan2.7-t2v (resolution + ratio) by its model
line alone. A parameter the model does not read is an error on the row, and a warning
when it came from `defaults:` (the defaults may serve several models).
"""

from __future__ import annotations

from typing import Final

from runner.core import MODELS, SEED_MAX, SIZES, ModelInfo, ParamValue, tier_of_size
from runner.manifest.rowvalues import MISSING, Row, boolean, choice, integer, one_of

__all__ = ["SIZE_RATIOS", "check_parameters", "check_seed"]

SHOT_TYPES: Final = ("single", "multi")
AUDIO_SETTINGS: Final = ("auto", "origin")
#: the ratio of each legacy size, by its place in a tier's list (runner.core.SIZES)
SIZE_RATIOS: Final = ("16:9", "9:16", "1:1", "4:3", "3:4")
_ANY_TIER: Final = ("480P", "720P", "1080P")


def check_parameters(row: Row, model: ModelInfo | None) -> dict[str, ParamValue]:
    """The row's parameters but its seed (check_seed) for `model` (None: only each value's own
    form is checked)."""
    params: dict[str, ParamValue] = {}
    tier = choice(row, "resolution", model.resolutions if model else _ANY_TIER, owner=_name(model))
    size = _size(row)
    duration = integer(row, "duration")
    if model is not None:
        _picture(row, model, params, tier, size)
        params["duration"] = model.default_duration if duration is None else duration
        if duration is not None and duration not in model.durations:
            row.fail("duration", f"{model.name} allows {model.describe_durations()}, got {duration}.")
    for name in ("prompt_extend", "watermark"):
        flag = boolean(row, name)
        if flag is not None:
            params[name] = flag
    optional: dict[str, ParamValue | None] = {
        "shot_type": choice(row, "shot_type", SHOT_TYPES),
        "audio": boolean(row, "audio"),
        "audio_setting": choice(row, "audio_setting", AUDIO_SETTINGS),
    }
    for name, value in optional.items():
        if value is not None and model is not None and model_takes(row, model, name):
            params[name] = value
    return params


def check_seed(row: Row) -> int | None:
    """The row's seed: every model takes one (kept apart: it is most rows' own value)."""
    seed = integer(row, "seed")
    if seed is None or 0 <= seed <= SEED_MAX:
        return seed
    row.fail("seed", f"must be a whole number from 0 to {SEED_MAX}, got {seed}.")
    return None


def model_takes(row: Row, model: ModelInfo, name: str) -> bool:
    """Whether the row may give `name` to `model`; a value from the defaults it ignores is
    dropped with a warning, one of the row's own is an error naming the models that take it."""
    if model.takes(name):
        return True
    if name in row.defaulted:
        row.warn(f"`{name}` from the defaults is ignored for {model.name}, which does not take it.")
        return False
    takers = [m.name for m in MODELS.values() if m.takes(name)]
    shown = ", ".join(takers[:6]) + (f" and {len(takers) - 6} more" if len(takers) > 6 else "")
    verb = "does" if len(takers) == 1 else "do"
    row.fail(name, f"{model.name} does not take {name} (only {shown} {verb}).")
    return False


def _picture(
    row: Row, model: ModelInfo, params: dict[str, ParamValue], tier: str | None, size: str | None
) -> None:
    """`size`, or `resolution` and `ratio`, in the spelling the model reads."""
    family = model.family
    ratio = _ratio(row, family.ratios or SIZE_RATIOS, model)
    if "size" in family.parameters:
        chosen = size or _size_of(row, model, tier, ratio)
        if chosen is not None and chosen not in model.sizes():
            allowed = ", ".join(model.sizes())
            row.fail("size", f"{model.name} allows the sizes {allowed}, got {chosen!r}.")
        params["size"] = chosen or str(model.default_size)
        return
    if size is not None:
        tier, ratio = _tier_and_ratio(row, model, size, tier, ratio)
    params["resolution"] = tier or model.default_resolution
    if ratio is not None and model_takes(row, model, "ratio"):
        if ratio in family.ratios:
            params["ratio"] = ratio
        else:
            row.fail("ratio", f"{model.name} allows {one_of(family.ratios)}, got {ratio!r}.")


def _size(row: Row) -> str | None:
    value = row.get("size")
    if value is MISSING:
        return None
    normal = str(value).strip().lower().replace("x", "*").replace("×", "*").replace(" ", "")
    if tier_of_size(normal):
        return normal
    row.fail("size", f"must be width*height in pixels, like 1280*720, got {value!r}.")
    return None


def _ratio(row: Row, allowed: tuple[str, ...], model: ModelInfo) -> str | None:
    value = row.get("ratio")
    if value is MISSING:
        return None
    raw = str(value).strip()
    if raw in allowed or raw in SIZE_RATIOS:
        return raw
    row.fail("ratio", f"{model.name} allows {one_of(allowed)}, got {value!r}.")
    return None


def _size_of(row: Row, model: ModelInfo, tier: str | None, ratio: str | None) -> str | None:
    """The legacy size for a resolution tier and ratio (None: the model's default size)."""
    if tier is None and ratio is None:
        return None
    tier = tier or model.default_resolution
    sizes = SIZES[tier]
    index = SIZE_RATIOS.index(ratio) if ratio in SIZE_RATIOS else 0
    if index >= len(sizes):
        offered = one_of([SIZE_RATIOS[i] for i in range(len(sizes))])
        row.fail("ratio", f"{model.name} has no {ratio} size at {tier} (only {offered}).")
        return None
    return sizes[index]


def _tier_and_ratio(
    row: Row, model: ModelInfo, size: str, tier: str | None, ratio: str | None
) -> tuple[str | None, str | None]:
    """A legacy size given to a model that reads resolution (and ratio): its tier and ratio."""
    size_tier = tier_of_size(size)
    if (
        size in SIZES.get(size_tier, ())
        and size_tier in model.resolutions
        and "ratio" in model.family.parameters
    ):
        return tier or size_tier, ratio or SIZE_RATIOS[SIZES[size_tier].index(size)]
    if "ratio" in model.family.parameters:
        row.fail(
            "size",
            f"{model.name} reads resolution and ratio, and {size!r} is not a size it knows; "
            "set resolution and ratio instead.",
        )
    else:
        row.fail(
            "size", f"{model.name} takes no size: its video follows the input's picture; set resolution."
        )
    return tier, ratio


def _name(model: ModelInfo | None) -> str | None:
    return model.name if model is not None else None
