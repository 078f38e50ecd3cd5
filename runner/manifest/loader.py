"""Manifests: a YAML or CSV file (or one given in memory) → validated TaskSpecs, with every
problem reported at once.

`load_manifest` reads the manifest (runner.manifest.documents), checks its top-level keys,
expands each task over `matrix` and `vars`, validates every row against the catalogue
(runner.manifest.fields), gives each task a stable content key and a readable unique id, and
raises one ManifestError listing all problems. It contacts nothing and writes nothing.
Format: the README, "Manifest format".
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from runner.core import ConfigError, Endpoint, ManifestError, TaskSpec, resolve_endpoint
from runner.manifest.accounts import Account, account_limits, choose_account, parse_accounts
from runner.manifest.csvrows import csv_tasks
from runner.manifest.documents import TOP_LEVEL_KEYS, ManifestSource, MemoryRows, Reading
from runner.manifest.expand import Axis, Expansion, RawTask, count_variants, expand_task, task_axes
from runner.manifest.fields import FIELD_NAMES, FieldChecker, suggest
from runner.manifest.identity import check_explicit_id, make_spec
from runner.manifest.limits import LIMIT_KEYS, Limits, parse_limits
from runner.manifest.media import MediaCache
from runner.manifest.mediarefs import MediaResolver
from runner.manifest.problems import condense
from runner.manifest.readers import MarkedDict, RowPlace
from runner.manifest.shards import Shard, Slice, take_slice

__all__ = [
    "DEFAULT_MAX_TASKS",
    "TOP_LEVEL_KEYS",
    "Manifest",
    "ManifestSource",
    "MemoryRows",
    "load_manifest",
    "run_folder",
    "take_account",
    "take_shard",
]

DEFAULT_MAX_TASKS: Final = 100_000
_OVERRIDE_TOP: Final = ("name", "endpoint", "model")
_NOT_DEFAULTS: Final = ("id",)
_NOT_MATRIX: Final = ("id", "meta")
_SHARED_CACHE: Final = MediaCache()
_MAX_DETAILED_WARNINGS: Final = 20


@dataclass(slots=True)
class Manifest:
    """A loaded, fully validated manifest."""

    path: Path | None  #: the manifest's file; None for one given in memory
    source: str  #: how messages name it: the file, `manifest dict`, `DataFrame`
    name: str
    endpoint: str | Mapping[str, object] | None  #: a region, a URL, or {region|url, workspace}
    model: str | None
    limits: Limits
    specs: list[TaskSpec]
    warnings: list[str] = field(default_factory=list)
    accounts: tuple[Account, ...] = ()  #: the `accounts:` list
    account: Account | None = None  #: set by `take_account`: the one this process drives
    part: Slice | None = None  #: set by `take_shard`: the shard these specs are, of how many tasks

    def whole(self) -> Slice:
        """What these specs were cut from (themselves, unless a shard was taken)."""
        return self.part or take_slice(self.specs, None)[1]


def take_shard(manifest: Manifest, shard: Shard | None) -> Manifest:
    """The manifest with only `shard`'s tasks (all of them for None)."""
    specs, part = take_slice(manifest.specs, shard)
    return replace(manifest, specs=specs, part=part)


def take_account(
    manifest: Manifest,
    name: str | None,
    *,
    accounts: Sequence[Account] | None = None,
    flags: Mapping[str, object] | None = None,
) -> Manifest:
    """The manifest as run by one account (`name`, or the shard's, or the only one: see
    runner.manifest.accounts.choose_account): its endpoint and quota numbers in place; with
    several accounts and none chosen, the manifest as run by all of them (`account` None).
    `accounts` replaces the manifest's list (`--accounts FILE`); `flags` are the quota flags."""
    listed = tuple(accounts) if accounts is not None else manifest.accounts
    shard = manifest.part.shard if manifest.part is not None else None
    account = choose_account(listed, name, shard)
    if account is None:
        return replace(manifest, accounts=listed)
    limits = account_limits(manifest.limits, account, flags or {})
    return replace(manifest, accounts=listed, account=account, endpoint=account.endpoint, limits=limits)


def run_folder(manifest: Manifest, out_root: Path = Path("outputs")) -> Path:
    """The folder a manifest's run writes to: `out_root/<name>`, and `shard-i-of-N/` inside it."""
    folder = out_root / manifest.name
    shard = manifest.part.shard if manifest.part is not None else None
    return folder if shard is None else folder / shard.folder_name


def load_manifest(
    source: ManifestSource,
    *,
    base: Path | None = None,
    overrides: Mapping[str, object] | None = None,
    today: datetime.date | None = None,
    max_tasks: int = DEFAULT_MAX_TASKS,
) -> Manifest:
    """Read, expand and validate the manifest (a file, a mapping written as the YAML, or rows in
    memory, whose relative paths are read from `base`, the working folder by default);
    ManifestError lists every problem."""
    loader = Reading(source, base, today or datetime.date.today())
    top, field_overrides, limit_overrides = _split_overrides(overrides or {})
    doc = loader.document()
    if doc is None:
        raise ManifestError(loader.problems, source=loader.display)
    doc.update({k: v for k, v in top.items() if v is not None})
    name = loader.run_name(doc)
    endpoint = _endpoint(loader, doc)
    limits = parse_limits(doc.get("limits"), limit_overrides, loader.at(doc, "limits"), loader.problems)
    exp = _expansion(loader, doc, field_overrides, name, top.get("model"))
    raw_tasks = _raw_tasks(loader, doc)
    cap = limits.max_tasks or max_tasks
    axes = [task_axes(task, exp) for task in raw_tasks]
    total = sum(count_variants(its_axes) for its_axes in axes)
    if total > cap:
        msg = f"expands to {total:,} tasks; the limit is {cap:,} (raise limits.max_tasks if you mean it)."
        loader.fail(loader.display, None, msg)
    if not raw_tasks and not loader.problems:
        loader.fail(loader.display, None, "there are no tasks: add `tasks:` or `rows:`.")
    if total > cap:  # expanding would be the problem itself
        raise ManifestError(condense(loader.problems), source=loader.display)
    specs = _build_specs(loader, list(zip(raw_tasks, axes, strict=True)), exp, endpoint)
    accounts = parse_accounts(doc.get("accounts"), loader.at(doc, "accounts"), loader.problems, endpoint)
    if loader.problems:
        raise ManifestError(condense(loader.problems), source=loader.display)
    model = doc.get("model")
    return Manifest(
        path=loader.path,
        source=loader.display,
        name=name,
        endpoint=endpoint,
        model=str(model) if model is not None else None,
        limits=limits,
        specs=specs,
        warnings=loader.warnings,
        accounts=tuple(accounts),
    )


def _split_overrides(
    overrides: Mapping[str, object],
) -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    top: dict[str, object] = {}
    fields: dict[str, object] = {}
    limits: dict[str, object] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key in _OVERRIDE_TOP:
            top[key] = value
        elif key in LIMIT_KEYS:
            limits[key] = value
        elif key in FIELD_NAMES and key not in _NOT_DEFAULTS:
            fields[key] = value
        else:
            msg = f"unknown manifest override {key!r}"
            raise ValueError(msg)
    return top, fields, limits


def _endpoint(loader: Reading, doc: Mapping[str, Any]) -> str | Mapping[str, object] | None:
    raw = doc.get("endpoint")
    if raw is None:
        return None
    value: str | Mapping[str, object] = dict(raw) if isinstance(raw, Mapping) else str(raw)
    try:
        resolve_endpoint(value)
    except ConfigError as exc:
        loader.fail(loader.at(doc, "endpoint"), "endpoint", str(exc))
    return value


def _expansion(
    loader: Reading,
    doc: Mapping[str, Any],
    field_overrides: Mapping[str, object],
    name: str,
    model_override: object,
) -> Expansion:
    defaults = _mapping(loader, doc, "defaults")
    for key in defaults:
        _check_field_name(loader, key, defaults, "defaults", _NOT_DEFAULTS)
    merged: dict[str, object] = {}
    defaults_at: dict[str, str] = {}
    if doc.get("model") is not None:
        merged["model"], defaults_at["model"] = doc["model"], loader.at(doc, "model")
    for key, value in defaults.items():
        if value is not None:
            merged[key], defaults_at[key] = value, loader.at(defaults, key)
    if model_override is not None:
        merged["model"], defaults_at["model"] = model_override, "the --model option"
    for key, value in field_overrides.items():
        merged[key], defaults_at[key] = value, f"the --{key.replace('_', '-')} option"
    matrix = _axes_mapping(loader, doc, "matrix")
    for key in matrix:
        _check_field_name(loader, key, doc.get("matrix"), "matrix", _NOT_MATRIX)
    variables = _axes_mapping(loader, doc, "vars")
    for key in variables:
        if key in FIELD_NAMES:
            msg = f"{key!r} is a task field; to cross over its values put it under `matrix:`."
            loader.fail(loader.at(doc.get("vars"), key), "vars", msg)
    constants = {"date": loader.today.isoformat(), "name": name}
    return Expansion(merged, matrix, variables, constants, defaults_at)


def _mapping(loader: Reading, doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        loader.fail(loader.at(doc, key), key, f"must be a mapping of names to values, got {value!r}.")
        return {}
    return value


def _axes_mapping(loader: Reading, doc: Mapping[str, Any], key: str) -> dict[str, tuple[object, ...]]:
    axes: dict[str, tuple[object, ...]] = {}
    for name, values in _mapping(loader, doc, key).items():
        items = tuple(values) if isinstance(values, list) else (values,)
        if not items:
            loader.fail(loader.at(doc.get(key), name), key, f"{name!r} has no values; give at least one.")
            continue
        axes[str(name)] = items
    return axes


def _check_field_name(
    loader: Reading, key: str, data: object, section: str, forbidden: tuple[str, ...]
) -> bool:
    if key in FIELD_NAMES and key not in forbidden:
        return True
    if key in forbidden:
        message = f"cannot be set in {section}."
    else:
        allowed = [f for f in FIELD_NAMES if f not in forbidden]
        hint = suggest(key, allowed) or f" Fields: {', '.join(allowed)}."
        message = f"unknown field in {section}.{hint}"
    loader.fail(loader.at(data, key), key, message)
    return False


def _raw_tasks(loader: Reading, doc: Mapping[str, Any]) -> list[RawTask]:
    tasks: list[RawTask] = []
    listed = doc.get("tasks")
    if listed is not None and not isinstance(listed, list):
        loader.fail(loader.at(doc, "tasks"), "tasks", "must be a list of task mappings.")
    for item in listed if isinstance(listed, list) else []:
        if not isinstance(item, MarkedDict):
            loader.fail(loader.at(doc, "tasks"), "tasks", f"each task must be a mapping, got {item!r}.")
            continue
        known = [key for key in item if _check_field_name(loader, key, item, "task", ())]
        place = RowPlace(loader.at(item), loader.root, loader.root, item.key_lines, loader.display)
        tasks.append(RawTask({k: item[k] for k in known if item[k] is not None}, place))
    rows = doc.get("rows")
    files = rows if isinstance(rows, list) else [rows] if rows is not None else []
    for name in files:
        rows_tasks, problems = csv_tasks(str(name), loader.at(doc, "rows"), loader.path, loader.root)
        tasks += rows_tasks
        loader.problems += problems
    return tasks + loader.memory_tasks()


def _build_specs(
    loader: Reading,
    raw_tasks: list[tuple[RawTask, list[Axis]]],
    exp: Expansion,
    endpoint: str | Mapping[str, object] | None,
) -> list[TaskSpec]:
    try:
        resolved: Endpoint | None = resolve_endpoint(endpoint)
    except ConfigError:
        resolved = None  # already reported; check the rows without a region
    checker = FieldChecker(resolved, MediaResolver(_SHARED_CACHE), exp.defaults_at)
    specs: list[TaskSpec] = []
    by_key: dict[str, TaskSpec] = {}
    by_id: dict[str, TaskSpec] = {}
    duplicates = 0
    for task, its_axes in raw_tasks:
        explicit, id_problem = check_explicit_id(task.values.get("id"))
        if id_problem is not None:
            loader.fail(task.place.where("id"), "id", id_problem)
        for variant in expand_task(task, its_axes, exp, loader.problems):
            request = checker.check(variant.values, task.place, loader.problems, variant.defaulted)
            if request is None or id_problem is not None:
                continue
            spec = make_spec(request, explicit, variant.suffix, task.place.location)
            first = by_key.get(spec.key)
            if first is not None:
                duplicates += 1
                if duplicates <= _MAX_DETAILED_WARNINGS:
                    loader.warnings.append(
                        f"{spec.location} asks for the same content as {first.location}; "
                        f"it is planned once, as {first.id!r}."
                    )
                continue
            _claim_id(loader, spec, by_id)
            by_key[spec.key] = spec
            specs.append(spec)
    if duplicates > _MAX_DETAILED_WARNINGS:
        loader.warnings.append(
            f"... {duplicates - _MAX_DETAILED_WARNINGS:,} more duplicate rows were skipped."
        )
    loader.warnings += checker.warnings
    return specs


def _claim_id(loader: Reading, spec: TaskSpec, by_id: dict[str, TaskSpec]) -> None:
    first = by_id.get(spec.id)
    if first is None:
        by_id[spec.id] = spec
        return
    msg = f"id {spec.id!r} is already used by {first.location}; ids must be unique."
    loader.fail(spec.location, "id", msg)
