"""One row being checked: its raw values, where it came from, and the problems found so far.

Raw values are YAML scalars or CSV strings; the readers here coerce one field each to
text, a whole number, a flag or a choice, recording a problem (never raising) when the
value cannot be one. Every problem of a row is collected; nothing stops at the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Final

from runner.core import Problem
from runner.manifest.readers import RowPlace

__all__ = ["MISSING", "Row", "boolean", "choice", "integer", "one_of", "suggest", "text"]

MISSING: Final = object()
_TRUE: Final = frozenset({"true", "yes", "1", "on"})
_FALSE: Final = frozenset({"false", "no", "0", "off"})


def suggest(name: str, choices: tuple[str, ...] | list[str]) -> str:
    """' Did you mean 'x'?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


class Row:
    """One row being checked: its values, its place, and the problems found so far."""

    __slots__ = ("defaulted", "defaults_at", "ok", "place", "problems", "values", "warnings")

    def __init__(
        self,
        values: Mapping[str, object],
        place: RowPlace,
        defaulted: frozenset[str],
        problems: list[Problem],
        warnings: dict[str, None],
        defaults_at: Mapping[str, str] | None = None,
    ) -> None:
        self.values = values
        self.place = place
        self.defaulted = defaulted  #: fields that came from `defaults:`, not the row itself
        self.defaults_at = defaults_at or {}  #: where each default was set ("m.yaml:4", "--model")
        self.problems = problems
        self.warnings = warnings  #: shared by every row: ordered, deduplicated
        self.ok = True

    def where(self, name: str | None) -> str:
        """Where field `name` was written: the row's own line, or the default's for a value from
        the defaults (so a bad default is one problem at its line, not one per row)."""
        if name is not None and name in self.defaulted and name in self.defaults_at:
            return self.defaults_at[name]
        return self.place.where(name)

    def fail(self, name: str, message: str, *, where: str | None = None) -> None:
        """Record a problem with field `name` (where it was written, or at `where`)."""
        self.ok = False
        self.problems.append(Problem(where or self.where(name), name, message))

    def warn(self, message: str) -> None:
        self.warnings[message] = None

    def get(self, name: str) -> object:
        """The raw value of `name`, or MISSING when it is absent or empty."""
        value = self.values.get(name)
        return MISSING if value is None or value == "" else value


def text(row: Row, name: str) -> str | None:
    value = row.get(name)
    if value is MISSING:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    row.fail(name, f"must be text, got {value!r}.")
    return None


def integer(row: Row, name: str) -> int | None:
    value = row.get(name)
    if value is MISSING:
        return None
    if isinstance(value, bool):
        row.fail(name, f"must be a whole number, got {value!r}.")
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lstrip("+-").isdigit():
            return int(stripped)
    row.fail(name, f"must be a whole number, got {value!r}.")
    return None


def boolean(row: Row, name: str) -> bool | None:
    value = row.get(name)
    if value is MISSING:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    row.fail(name, f"must be true or false (also yes/no, 1/0), got {value!r}.")
    return None


def choice(row: Row, name: str, allowed: tuple[str, ...], *, owner: str | None = None) -> str | None:
    """One of `allowed`, matched without regard to case; `owner` names who allows them."""
    value = row.get(name)
    if value is MISSING:
        return None
    raw = str(value).strip()
    for candidate in allowed:
        if candidate.lower() == raw.lower():
            return candidate
    who = f"{owner} allows" if owner else "must be"
    row.fail(name, f"{who} {one_of(allowed)}, got {value!r}.")
    return None


def one_of(choices: tuple[str, ...] | list[str]) -> str:
    """'a, b or c' (or 'only a')."""
    if len(choices) == 1:
        return f"only {choices[0]}"
    return ", ".join(choices[:-1]) + f" or {choices[-1]}"
