"""Task fields: coercing one row's raw values and checking them against the model catalogue.

A row arrives as raw values (YAML scalars or CSV strings) after defaults and
templates are applied; it leaves as a `Request` (everything a TaskSpec needs but
its id and key) or as Problems naming the field, the value seen and what is allowed.
Every problem of the row is collected; nothing stops at the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from runner.core import (
    MODELS,
    NEGATIVE_PROMPT_MAX,
    SEED_MAX,
    Endpoint,
    MediaRef,
    ModelInfo,
    ParamValue,
    Problem,
    get_model,
)
from runner.manifest.mediarefs import MediaResolver
from runner.manifest.readers import RowPlace

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
    "img_url",
    "audio_url",
    "resolution",
    "duration",
    "prompt_extend",
    "watermark",
    "seed",
    "shot_type",
    "audio",
    "variant",
    "meta",
)
SHOT_TYPES: Final = ("single", "multi")
_TRUE: Final = frozenset({"true", "yes", "1", "on"})
_FALSE: Final = frozenset({"false", "no", "0", "off"})
_MISSING: Final = object()


def suggest(name: str, choices: tuple[str, ...] | list[str]) -> str:
    """' Did you mean 'x'?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def unknown_model(name: str) -> str:
    """The problem with a model name the catalogue does not know, with the closest known one."""
    return f"unknown model {name!r}.{suggest(name, list(MODELS))} Known models: {', '.join(MODELS)}."


@dataclass(frozen=True, slots=True)
class Request:
    """A validated row: everything a TaskSpec holds except its id and key."""

    model: str
    image: MediaRef
    prompt: str | None
    negative_prompt: str | None
    audio: MediaRef | None
    parameters: dict[str, ParamValue]
    variant: str | None
    meta: dict[str, str] = field(default_factory=dict)


class _Row:
    """One row being checked: its values, its place, and the problems found so far."""

    __slots__ = ("defaulted", "ok", "place", "problems", "values")

    def __init__(
        self,
        values: Mapping[str, object],
        place: RowPlace,
        defaulted: frozenset[str],
        problems: list[Problem],
    ) -> None:
        self.values = values
        self.place = place
        self.defaulted = defaulted
        self.problems = problems
        self.ok = True

    def fail(self, name: str, message: str) -> None:
        self.ok = False
        self.problems.append(Problem(self.place.where(name), name, message))

    def get(self, name: str) -> object:
        value = self.values.get(name)
        return _MISSING if value is None or value == "" else value


class FieldChecker:
    """Turns raw rows into Requests for one endpoint, sharing one media resolver across rows."""

    def __init__(self, endpoint: Endpoint | None, media: MediaResolver) -> None:
        self._endpoint = endpoint
        self._media = media
        self.warnings: dict[str, None] = {}  # ordered, deduplicated

    def check(
        self,
        values: Mapping[str, object],
        place: RowPlace,
        problems: list[Problem],
        defaulted: frozenset[str] = frozenset(),
    ) -> Request | None:
        """The row as a Request, or None after appending its problems to `problems`."""
        row = _Row(values, place, defaulted, problems)
        model = self._model(row)
        prompt = _text(row, "prompt")
        negative = _text(row, "negative_prompt")
        variant = _text(row, "variant")
        parameters = self._parameters(row, model)
        meta = _meta(row)
        image = audio = None
        if model is not None:
            _check_lengths(row, model, prompt, negative)
            image = self._image(row, model)
            audio = self._audio(row, model, parameters)
        if not row.ok or model is None or image is None:
            return None
        return Request(model.name, image, prompt, negative, audio, parameters, variant, meta)

    def _model(self, row: _Row) -> ModelInfo | None:
        raw = row.get("model")
        if raw is _MISSING:
            row.fail("model", "no model is given; set `model:` in the manifest, a model column, or --model.")
            return None
        name = str(raw).strip()
        model = get_model(name)
        if model is None:
            row.fail("model", unknown_model(name))
            return None
        region = self._endpoint.name if self._endpoint is not None else "sim"
        if region in ("beijing", "singapore", "virginia") and region not in model.regions:
            offered = ", ".join(sorted(model.regions))
            row.fail("model", f"{name} is not offered in the {region} region (only in {offered}).")
        return model

    def _parameters(self, row: _Row, model: ModelInfo | None) -> dict[str, ParamValue]:
        params: dict[str, ParamValue] = {}
        resolution = _choice_upper(row, "resolution", model.resolutions if model else None)
        duration = _integer(row, "duration")
        if model is not None:
            params["resolution"] = model.default_resolution if resolution is None else resolution
            params["duration"] = model.default_duration if duration is None else duration
            if duration is not None and duration not in model.durations:
                row.fail("duration", f"{model.name} allows {model.describe_durations()}, got {duration}.")
        for name in ("prompt_extend", "watermark"):
            flag = _boolean(row, name)
            if flag is not None:
                params[name] = flag
        seed = _integer(row, "seed")
        if seed is not None:
            if 0 <= seed <= SEED_MAX:
                params["seed"] = seed
            else:
                row.fail("seed", f"must be a whole number from 0 to {SEED_MAX}, got {seed}.")
        shot_type = _choice_lower(row, "shot_type", SHOT_TYPES)
        audio = _boolean(row, "audio")
        if model is not None:
            if self._allowed(row, model, "shot_type", model.takes_shot_type, shot_type):
                params["shot_type"] = str(shot_type)
            if self._allowed(row, model, "audio", model.takes_audio_param, audio):
                params["audio"] = bool(audio)
        return params

    def _allowed(self, row: _Row, model: ModelInfo, name: str, takes: bool, value: object) -> bool:
        """Whether a model-specific value may be used; a default the model ignores is dropped."""
        if value is None:
            return False
        if takes:
            return True
        takers = ", ".join(m.name for m in MODELS.values() if _takes(m, name))
        if name in row.defaulted:
            self.warnings[
                f"`{name}` from the defaults is ignored for {model.name}, which does not take it."
            ] = None
        else:
            verb = "does" if "," not in takers else "do"
            row.fail(name, f"{model.name} does not take {name} (only {takers} {verb}).")
        return False

    def _image(self, row: _Row, model: ModelInfo) -> MediaRef | None:
        raw = row.get("img_url")
        if raw is _MISSING:
            row.fail(
                "img_url", "every task needs a first-frame image: an http(s) URL, a data: URL or a file path."
            )
            return None
        if not isinstance(raw, str):
            row.fail("img_url", f"must be a URL or a file path, got {raw!r}.")
            return None
        ref, message = self._media.image(raw.strip(), row.place, model)
        if message is not None:
            row.fail("img_url", message)
        return ref

    def _audio(self, row: _Row, model: ModelInfo, params: Mapping[str, ParamValue]) -> MediaRef | None:
        raw = row.get("audio_url")
        if raw is _MISSING:
            return None
        if not self._allowed(row, model, "audio_url", model.takes_audio_url, raw):
            return None
        if not isinstance(raw, str):
            row.fail("audio_url", f"must be an http(s) URL or a file path, got {raw!r}.")
            return None
        if params.get("audio") is False:
            note = f"{row.place.where(None)}: audio_url is ignored because audio is false (a silent video)."
            self.warnings[note] = None
        ref, message = self._media.audio(raw.strip(), row.place)
        if message is not None:
            row.fail("audio_url", message)
        return ref


_TAKES: Final[Mapping[str, Callable[[ModelInfo], bool]]] = {
    "shot_type": lambda m: m.takes_shot_type,
    "audio": lambda m: m.takes_audio_param,
    "audio_url": lambda m: m.takes_audio_url,
}


def _takes(model: ModelInfo, name: str) -> bool:
    return _TAKES[name](model)


def _check_lengths(row: _Row, model: ModelInfo, prompt: str | None, negative: str | None) -> None:
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


def _text(row: _Row, name: str) -> str | None:
    value = row.get(name)
    if value is _MISSING:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    row.fail(name, f"must be text, got {value!r}.")
    return None


def _integer(row: _Row, name: str) -> int | None:
    value = row.get(name)
    if value is _MISSING:
        return None
    if isinstance(value, bool):
        row.fail(name, f"must be a whole number, got {value!r}.")
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return int(text)
    row.fail(name, f"must be a whole number, got {value!r}.")
    return None


def _boolean(row: _Row, name: str) -> bool | None:
    value = row.get(name)
    if value is _MISSING:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    row.fail(name, f"must be true or false (also yes/no, 1/0), got {value!r}.")
    return None


def _choice_upper(row: _Row, name: str, allowed: tuple[str, ...] | None) -> str | None:
    value = row.get(name)
    if value is _MISSING:
        return None
    text = str(value).strip().upper()
    if allowed is not None and text not in allowed:
        model = row.values.get("model")
        row.fail(name, f"{model} allows {_or(allowed)}, got {value!r}.")
        return None
    return text


def _choice_lower(row: _Row, name: str, allowed: tuple[str, ...]) -> str | None:
    value = row.get(name)
    if value is _MISSING:
        return None
    text = str(value).strip().lower()
    if text not in allowed:
        row.fail(name, f"must be {_or(allowed)}, got {value!r}.")
        return None
    return text


def _meta(row: _Row) -> dict[str, str]:
    value = row.get("meta")
    if value is _MISSING:
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


def _or(choices: tuple[str, ...]) -> str:
    if len(choices) == 1:
        return f"only {choices[0]}"
    return ", ".join(choices[:-1]) + f" or {choices[-1]}"
