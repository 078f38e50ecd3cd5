"""Run limits from a manifest's `limits:` block: quotas we keep below, and caps that stop a run.

Durations accept seconds or text such as "90s", "30m", "2h" or "1h30m".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from runner.errors import Problem
from runner.fields import suggest

__all__ = ["LIMIT_KEYS", "Limits", "parse_duration_s", "parse_limits"]

LIMIT_KEYS: Final = (
    "concurrency",
    "submit_rate",
    "max_cost",
    "max_wall_time",
    "queue_ahead",
    "max_tasks",
    "data_url_max",
)
_DURATION: Final = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s?)?\s*$"
)


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
    parsed: dict[str, object] = {}
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
