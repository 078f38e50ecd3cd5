"""Run limits from a manifest's `limits:` block: quotas we keep below, and caps that stop a run.

Durations accept seconds or text such as "90s", "30m", "2h" or "1h30m". `concurrency` and
`submit_rate` apply to each model, as DashScope's quotas do; `models:` gives a model its own
(an account whose quota was raised for one model):

    limits: {concurrency: 4, models: {wan2.6-i2v-flash: {concurrency: 10, submit_rate: 10}}}

A `--concurrency` or `--submit-rate` flag overrides both, for every model.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from runner.core import MODELS, Problem
from runner.manifest.fields import suggest, unknown_model

__all__ = ["LIMIT_KEYS", "Limits", "ModelLimits", "parse_duration_s", "parse_limits"]

LIMIT_KEYS: Final = (
    "concurrency",
    "submit_rate",
    "max_cost",
    "max_wall_time",
    "queue_ahead",
    "max_tasks",
    "data_url_max",
    "models",
)
MODEL_LIMIT_KEYS: Final = ("concurrency", "submit_rate")
_DURATION: Final = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s?)?\s*$"
)


@dataclass(frozen=True, slots=True)
class ModelLimits:
    """Numbers that replace a model's quota; None: the model's quota."""

    concurrency: int | None = None
    submit_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps for one run; None means "the model's quota" or "no cap"."""

    concurrency: int | None = None  #: tasks in flight at once, per model (in place of its quota)
    submit_rate: float | None = None  #: submissions per second, per model (in place of its quota)
    max_cost: float | None = None  #: stop submitting once this much is committed (region's currency)
    max_wall_time: float | None = None  #: seconds; stop submitting after this long
    queue_ahead: int | None = None  #: tasks submitted beyond the concurrency quota to keep the queue fed
    max_tasks: int | None = None  #: refuse manifests that expand to more tasks than this
    data_url_max: int | None = None  #: bytes: larger local images are uploaded instead of sent inline
    models: Mapping[str, ModelLimits] = field(default_factory=dict)  #: a model's own, over the two above

    def of_model(self, model: str) -> ModelLimits:
        """What replaces `model`'s quota numbers: its own limits, else the run's."""
        own = self.models.get(model, ModelLimits())
        return ModelLimits(own.concurrency or self.concurrency, own.submit_rate or self.submit_rate)


def parse_duration_s(value: object) -> float | None:
    """Seconds from a number or "2h"/"30m"/"90s"/"1h30m"; None when it is not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        return None
    match = _DURATION.match(value.lower())
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_limits(raw: object, overrides: Mapping[str, object], where: str, problems: list[Problem]) -> Limits:
    """Limits from the `limits:` mapping with `overrides` on top; problems are appended."""
    values: dict[str, object] = {}
    if raw is not None and not isinstance(raw, Mapping):
        problems.append(Problem(where, "limits", f"must be a mapping, got {raw!r}."))
    elif raw is not None:
        values.update(raw)
    values.update(overrides)
    parsed: dict[str, object] = {
        "models": _model_limits(values.pop("models", None), overrides, where, problems)
    }
    for key, value in values.items():
        if value is None:
            continue
        if key not in LIMIT_KEYS:
            hint = suggest(str(key), LIMIT_KEYS)
            problems.append(Problem(where, str(key), f"unknown limit.{hint} Known: {', '.join(LIMIT_KEYS)}."))
            continue
        number = _number(key, value)
        if number is None:
            problems.append(Problem(where, key, f"{_expected(key)}, got {value!r}."))
        else:
            parsed[key] = number
    return Limits(**parsed)  # type: ignore[arg-type]


def _model_limits(
    raw: object, overridden: Collection[str], where: str, problems: list[Problem]
) -> dict[str, ModelLimits]:
    """`limits.models`: each listed model's own concurrency and submit_rate; a flag (`overridden`)
    replaces them for every model."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        example = "{wan2.2-i2v-flash: {concurrency: 2}}"
        problems.append(
            Problem(
                where, "models", f"must map model names to their own limits, like {example}, got {raw!r}."
            )
        )
        return {}
    limits = {}
    for model, entry in raw.items():
        name = f"models.{model}"
        if model not in MODELS:
            problems.append(
                Problem(where, name, unknown_model(str(model)) + " It cannot have limits of its own.")
            )
        elif not isinstance(entry, Mapping):
            problems.append(
                Problem(where, name, f"must be a mapping of concurrency and/or submit_rate, got {entry!r}.")
            )
        else:
            own = _model_numbers(entry, name, where, problems)
            limits[str(model)] = replace(own, **{key: None for key in overridden if key in MODEL_LIMIT_KEYS})
    return limits


def _model_numbers(
    entry: Mapping[object, object], name: str, where: str, problems: list[Problem]
) -> ModelLimits:
    numbers: dict[str, float] = {}
    for key, value in entry.items():
        if key not in MODEL_LIMIT_KEYS:
            hint = suggest(str(key), MODEL_LIMIT_KEYS)
            message = f"is not a per-model limit.{hint} Per model: concurrency, submit_rate."
            problems.append(Problem(where, f"{name}.{key}", message))
            continue
        number = _number(str(key), value)
        if number is None:
            problems.append(Problem(where, f"{name}.{key}", f"{_expected(str(key))}, got {value!r}."))
        else:
            numbers[str(key)] = number
    concurrency = numbers.get("concurrency")
    return ModelLimits(None if concurrency is None else int(concurrency), numbers.get("submit_rate"))


def _number(key: str, value: object) -> int | float | None:
    if key == "max_wall_time":
        seconds = parse_duration_s(value)
        return seconds if seconds is not None and seconds > 0 else None
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None
    if (
        number is None
        or number < 0
        or (number == 0 and key not in ("queue_ahead", "max_cost", "data_url_max"))
    ):
        return None
    if key in ("concurrency", "queue_ahead", "max_tasks", "data_url_max"):
        return int(number) if number.is_integer() else None
    return number


def _expected(key: str) -> str:
    if key == "max_wall_time":
        return 'must be a positive duration in seconds or like "30m", "2h", "1h30m"'
    if key in ("concurrency", "max_tasks"):
        return "must be a whole number of at least 1"
    if key == "queue_ahead":
        return "must be a whole number of at least 0"
    if key == "data_url_max":
        return "must be a whole number of bytes, at least 0 (0 uploads every local image)"
    if key == "max_cost":
        return "must be an amount of at least 0 in the region's currency"
    return "must be a positive number"
