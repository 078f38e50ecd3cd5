"""Expansion: one manifest task × matrix × vars → concrete rows, with templates filled in.

Precedence, lowest first: defaults, matrix values, the task's own fields (a task that
sets a matrix field is not crossed over it). `vars` are crossed only for the tasks
whose templates use them, so a var never multiplies a task that ignores it. Template
names available: the vars, the task's fields (`{seed}`, `{model}`, `{resolution}`...),
its meta (`{meta.mood}` or `{mood}`), `{date}` and `{name}`. The size of an expansion
is computed by multiplication before anything is expanded.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from runner.core import Problem
from runner.manifest.fields import suggest
from runner.manifest.mediafields import MEDIA_FIELDS
from runner.manifest.readers import RowPlace
from runner.manifest.templates import TemplateError, placeholders, render, slugify

__all__ = [
    "TEMPLATED_FIELDS",
    "Axis",
    "Expansion",
    "RawTask",
    "Variant",
    "count_variants",
    "expand_task",
    "task_axes",
]

#: Fields whose text may contain `{name}` placeholders (in media lists: each item, each `url`).
TEMPLATED_FIELDS: Final = ("prompt", "negative_prompt", *MEDIA_FIELDS)
_TEMPLATED_ORDER: Final = {name: index for index, name in enumerate(TEMPLATED_FIELDS)}
_CONTEXT_FIELDS: Final = (
    "id",
    "model",
    "resolution",
    "size",
    "ratio",
    "duration",
    "seed",
    "variant",
    "shot_type",
)


@dataclass(frozen=True, slots=True)
class RawTask:
    """One task as written: a YAML task mapping or a CSV row, before defaults and expansion."""

    values: Mapping[str, object]
    place: RowPlace


@dataclass(frozen=True, slots=True)
class Axis:
    """One crossed dimension: a matrix field or a template var, with its values."""

    name: str
    values: tuple[object, ...]
    is_var: bool


@dataclass(frozen=True, slots=True)
class Expansion:
    """The manifest-wide ingredients of expansion."""

    defaults: Mapping[str, object] = field(default_factory=dict)
    matrix: Mapping[str, tuple[object, ...]] = field(default_factory=dict)
    vars: Mapping[str, tuple[object, ...]] = field(default_factory=dict)
    constants: Mapping[str, object] = field(default_factory=dict)  #: {date}, {name}
    #: where each default was set: "m.yaml:4" (its line in `defaults:`), "the --model option"
    defaults_at: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Variant:
    """One concrete row: merged values, the fields that came from defaults, and its id suffix."""

    values: dict[str, object]
    defaulted: frozenset[str]
    suffix: tuple[str, ...]  #: the varying values, for readable ids ("noir", "s1")


def task_axes(task: RawTask, exp: Expansion) -> list[Axis]:
    """What `task` is crossed over: the vars its templates use, then the matrix fields it leaves open."""
    matrix = [Axis(name, values, False) for name, values in exp.matrix.items() if name not in task.values]
    if not exp.vars:
        return matrix
    texts = _template_texts(task, exp)
    used: dict[str, None] = {}
    for text in texts:
        try:
            used.update(dict.fromkeys(placeholders(text)))
        except TemplateError:
            continue  # reported when rendering
    var_axes = [Axis(name, exp.vars[name], True) for name in exp.vars if name in used]
    return var_axes + matrix


def _template_texts(task: RawTask, exp: Expansion) -> list[str]:
    texts = []
    for name in TEMPLATED_FIELDS:
        texts += _texts_in(task.values.get(name, exp.defaults.get(name)))
        if name not in task.values:
            for value in exp.matrix.get(name, ()):
                texts += _texts_in(value)
    return texts


def _texts_in(value: object) -> list[str]:
    """The template texts of a field's value: a string, a list's strings, media mappings' urls."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _texts_in(item)]
    if isinstance(value, Mapping) and isinstance(value.get("url"), str):
        return [str(value["url"])]
    return []


def count_variants(axes: list[Axis]) -> int:
    """How many rows a task crossed over `axes` expands to, without expanding it."""
    total = 1
    for axis in axes:
        total *= len(axis.values)
    return total


def expand_task(
    task: RawTask, axes: list[Axis], exp: Expansion, problems: list[Problem]
) -> Iterator[Variant]:
    """Every concrete row of `task` over `axes`; template problems are appended and the row skipped."""
    varying = [len(axis.values) > 1 for axis in axes]
    crossed = {axis.name for axis in axes if not axis.is_var}
    defaulted = frozenset(exp.defaults.keys() - task.values.keys() - crossed)
    meta = _merged_meta(exp.defaults.get("meta"), task.values.get("meta"))
    for combo in itertools.product(*(axis.values for axis in axes)):
        values = dict(exp.defaults)
        bound_vars: dict[str, object] = {}
        for axis, value in zip(axes, combo, strict=True):
            if axis.is_var:
                bound_vars[axis.name] = value
            else:
                values[axis.name] = value
        values.update(task.values)
        if meta is not None:
            values["meta"] = meta
        if not _render_templates(values, bound_vars, (task.place, defaulted), exp, problems):
            continue
        suffix = tuple(
            _suffix_part(a.name, v) for a, v, vary in zip(axes, combo, varying, strict=True) if vary
        )
        yield Variant(values, defaulted, suffix)


def _merged_meta(defaults: object, own: object) -> object:
    if defaults is None or own is None:
        return own if own is not None else defaults
    if isinstance(defaults, Mapping) and isinstance(own, Mapping):
        return {**defaults, **own}
    return own if own is not None else defaults


def _render_templates(
    values: dict[str, object],
    bound_vars: Mapping[str, object],
    origin: tuple[RowPlace, frozenset[str]],  #: the task's place, the fields from its defaults
    exp: Expansion,
    problems: list[Problem],
) -> bool:
    context: dict[str, object] | None = None
    ok = True
    for name in _templated_in(values):
        value = values[name]
        if value is None or not _has_braces(value):
            continue
        if context is None:
            context = _context(values, bound_vars, exp)
        try:
            values[name] = _rendered(value, context)
        except KeyError as exc:
            ok = False
            message = _unknown_placeholder(str(exc.args[0]), context, exp)
            problems.append(Problem(_where(name, origin, exp), name, message))
        except TemplateError as exc:
            ok = False
            problems.append(Problem(_where(name, origin, exp), name, f"{exc}."))
    return ok


def _where(name: str, origin: tuple[RowPlace, frozenset[str]], exp: Expansion) -> str:
    """Where field `name` was written: the task's own line, or its default's."""
    place, defaulted = origin
    if name in defaulted and name in exp.defaults_at:
        return exp.defaults_at[name]
    return place.where(name)


def _unknown_placeholder(missing: str, context: Mapping[str, object], exp: Expansion) -> str:
    """The problem with `{missing}`, naming the closest known name: the manifest's vars (even
    those this task does not use yet), its constants and the task's own fields."""
    known = sorted({*context, *exp.vars})
    hint = suggest(missing, known)
    return f"unknown placeholder {{{missing}}}.{hint} Known names here: {', '.join(known)}."


def _templated_in(values: Mapping[str, object]) -> list[str]:
    """The templated fields a row sets, in TEMPLATED_FIELDS order (a row sets few of them)."""
    names = [name for name in values if name in _TEMPLATED_ORDER]
    return sorted(names, key=_TEMPLATED_ORDER.__getitem__) if len(names) > 1 else names


def _has_braces(value: object) -> bool:
    if isinstance(value, str):  # most values: one text, checked without a list
        return "{" in value or "}" in value
    return any("{" in text or "}" in text for text in _texts_in(value))


def _rendered(value: object, context: Mapping[str, object]) -> object:
    """`value` with every template text in it filled in (lists and media mappings alike)."""
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, list):
        return [_rendered(item, context) for item in value]
    if isinstance(value, Mapping) and isinstance(value.get("url"), str):
        return {**value, "url": render(str(value["url"]), context)}
    return value


def _context(
    values: Mapping[str, object], bound_vars: Mapping[str, object], exp: Expansion
) -> dict[str, object]:
    context: dict[str, object] = dict(exp.constants)
    context.update((name, v[0]) for name, v in exp.vars.items() if len(v) == 1)
    context.update(bound_vars)
    for name in _CONTEXT_FIELDS:
        value = values.get(name)
        if value is not None and value != "":
            context[name] = value
    meta = values.get("meta")
    if isinstance(meta, Mapping):
        for key, value in meta.items():
            context[f"meta.{key}"] = value
            context.setdefault(str(key), value)
    return context


def _suffix_part(name: str, value: object) -> str:
    if name == "seed":
        return f"s{value}"
    if name == "duration":
        return f"{value}s"
    if isinstance(value, bool):
        flag = name.replace("_", "-")
        return flag if value else f"no-{flag}"
    return slugify(str(value), 24) or "x"
