"""Task fields: one row's raw values checked against the model catalogue, into a Request.

A row arrives as raw values (YAML scalars or CSV strings) after defaults and templates
are applied; it leaves as a `Request` (everything a TaskSpec needs but its id and key)
or as Problems naming the field, the value seen and what is allowed. The model's family
(runner.core.families) decides which inputs and parameters it reads: parameters are
checked in runner.manifest.parameters, inputs in runner.manifest.mediafields, and the
whole set in runner.manifest.combinations. Every problem of the row is collected.

Rows of a large CSV mostly differ only in their prompt and seed: a row's shape (every value
but its own-value fields) is checked once and remembered when clean, so each row costs only
its own values; a shape with a problem or a warning is checked again for every row using it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from runner.core import (
    MODELS,
    NEGATIVE_PROMPT_MAX,
    Endpoint,
    MediaItem,
    ModelInfo,
    ParamValue,
    Problem,
    get_model,
)
from runner.manifest.combinations import check_combination
from runner.manifest.mediafields import MEDIA_FIELDS, media_items, written_media
from runner.manifest.mediarefs import MediaResolver
from runner.manifest.parameters import check_parameters, check_seed
from runner.manifest.readers import RowPlace
from runner.manifest.rowvalues import MISSING, Row, suggest, text

__all__ = [
    "FIELD_NAMES",
    "FieldChecker",
    "Request",
    "suggest",
    "unknown_model",
]

#: Every field a task may set (the API's own names plus ours), in the order shown in messages.
FIELD_NAMES: Final = (
    "id",
    "model",
    "prompt",
    "negative_prompt",
    *MEDIA_FIELDS,
    "resolution",
    "size",
    "ratio",
    "duration",
    "prompt_extend",
    "watermark",
    "seed",
    "shot_type",
    "audio",
    "audio_setting",
    "variant",
    "meta",
)


def unknown_model(name: str) -> str:
    """The problem with a model name the catalogue does not know, with the closest known one."""
    hint = suggest(name, list(MODELS))
    return f"unknown model {name!r}.{hint} `runner models` lists the {len(MODELS)} known models."


@dataclass(frozen=True, slots=True)
class Request:
    """A validated row: everything a TaskSpec holds except its id and key."""

    model: str
    media: tuple[MediaItem, ...]
    prompt: str | None
    negative_prompt: str | None
    parameters: dict[str, ParamValue]
    variant: str | None
    meta: dict[str, str] = field(default_factory=dict)


#: Fields most rows set to their own value; the rest of a row (its shape) is checked once per
#: distinct shape, so a 100,000-row CSV naming one image is checked about once, not 100,000 times.
_OWN_VALUE_FIELDS: Final = frozenset({"id", "prompt", "negative_prompt", "variant", "seed", "meta"})

ShapeKey = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a row's model, media and parameters (but its seed) came to."""

    model: ModelInfo
    media: tuple[MediaItem, ...]
    parameters: dict[str, ParamValue]


class FieldChecker:
    """Turns raw rows into Requests for one endpoint, sharing one media resolver across rows."""

    def __init__(
        self, endpoint: Endpoint | None, media: MediaResolver, defaults_at: Mapping[str, str] | None = None
    ) -> None:
        self._endpoint = endpoint
        self._media = media
        self._defaults_at = defaults_at or {}  #: where each default was set, for its problems
        self.warnings: dict[str, None] = {}  # ordered, deduplicated
        self._shapes: dict[ShapeKey, _Shape] = {}

    def check(
        self,
        values: Mapping[str, object],
        place: RowPlace,
        problems: list[Problem],
        defaulted: frozenset[str] = frozenset(),
    ) -> Request | None:
        """The row as a Request, or None after appending its problems to `problems`."""
        row = Row(values, place, defaulted, problems, self.warnings, self._defaults_at)
        prompt = text(row, "prompt")
        negative = text(row, "negative_prompt")
        variant = text(row, "variant")
        seed = check_seed(row)
        meta = _meta(row)
        model, shape = self._shape(row, bool(prompt))
        if model is not None:
            _check_lengths(row, model, prompt, negative)
        if shape is None or not row.ok:
            return None
        parameters = dict(shape.parameters) if seed is None else {**shape.parameters, "seed": seed}
        return Request(shape.model.name, shape.media, prompt, negative, parameters, variant, meta)

    def _shape(self, row: Row, has_prompt: bool) -> tuple[ModelInfo | None, _Shape | None]:
        """The row's model, and its shape (None after a problem): remembered when found clean,
        checked afresh when not, so each row's own problems are reported at its own place."""
        key: ShapeKey | None = _shape_key(row, has_prompt)
        try:
            known = self._shapes.get(key) if key is not None else None
        except TypeError:  # a list or a mapping among the values (YAML): checked afresh each time
            key = known = None
        if known is not None:
            return known.model, known
        warnings = len(row.warnings)  # a shape that warns is not remembered: its warning names the row
        model = self._model(row)
        parameters = check_parameters(row, model)
        written = written_media(row)
        if model is None:
            return None, None
        media = media_items(row, model, written, self._media)
        if row.ok:  # the inputs together, once each alone is fine (and the row's own values are)
            check_combination(row, model, media, written, has_prompt, parameters)
        if not row.ok:
            return model, None
        shape = _Shape(model, media, parameters)
        if key is not None and len(row.warnings) == warnings:
            self._shapes[key] = shape
        return model, shape

    def _model(self, row: Row) -> ModelInfo | None:
        raw = row.get("model")
        if raw is MISSING:
            row.fail("model", "no model is given; set `model:` in the manifest, a model column, or --model.")
            return None
        name = str(raw).strip()
        model = get_model(name)
        if model is None:
            row.fail("model", unknown_model(name))
            return None
        region = self._endpoint.name if self._endpoint is not None else "sim"
        if region not in ("sim", "custom") and region not in model.regions:
            offered = ", ".join(sorted(model.regions))
            row.fail("model", f"{name} is not offered in the {region} region (only in {offered}).")
        return model


def _shape_key(row: Row, has_prompt: bool) -> ShapeKey:
    """Everything the shape of a row depends on; each value with its type, since 1 == True."""
    key: list[object] = [has_prompt, row.defaulted, row.place.folder, row.place.root]
    for name, value in row.values.items():
        if name not in _OWN_VALUE_FIELDS:
            key += (name, type(value), value)
    return tuple(key)


def _check_lengths(row: Row, model: ModelInfo, prompt: str | None, negative: str | None) -> None:
    if prompt is not None and len(prompt) > model.prompt_max:
        row.fail(
            "prompt",
            f"is {len(prompt)} characters; {model.name} reads at most {model.prompt_max} "
            "(the service would silently cut the rest), so shorten it.",
        )
    if negative is not None and len(negative) > NEGATIVE_PROMPT_MAX:
        row.fail(
            "negative_prompt",
            f"is {len(negative)} characters; at most {NEGATIVE_PROMPT_MAX} are read "
            "(the service would silently cut the rest), so shorten it.",
        )


def _meta(row: Row) -> dict[str, str]:
    value = row.get("meta")
    if value is MISSING:
        return {}
    if not isinstance(value, Mapping):
        row.fail("meta", f"must be a mapping of names to values, got {value!r}.")
        return {}
    meta: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, Mapping | list):
            row.fail("meta", f"value of {key!r} must be a single value, got {item!r}.")
        elif item is not None:
            meta[str(key)] = str(item)
    return meta
