"""`runner merge`: shard or run folders combined into one dataset folder.

The merged folder is what a single run would have left: videos/ with each task's video and
sidecar (hard links where the file system allows, else copies), inputs/, a journal holding
every task once, status.csv, status.parquet and report.html. A task found in several folders
is taken once: a done one whose video is sound first, then one that got furthest, then the
first folder named. Folders of different manifests are refused unless asked (`allow_mixed`);
folders of different currencies, or simulator folders with an account's, always are.

A merged folder is a result, not a run: `runner run` refuses it (runner.session.ownership), and a
second merge into it replaces it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from runner.core import ConfigError, TaskRecord, TaskSpec, TaskState
from runner.journal import (
    ACCOUNT_META,
    ENDPOINT_META,
    JOURNAL_NAME,
    MANIFEST_PRINT_META,
    MANIFEST_TASKS_META,
    MERGED_FROM_META,
    SHARD_META,
    Store,
    folder_in_use,
)
from runner.outputs.durable import link_or_copy
from runner.outputs.report import write_report
from runner.outputs.status_table import write_status_table
from runner.outputs.verify import video_problem
from runner.outputs.videos import INPUTS_DIR, VIDEOS_DIR

__all__ = ["MergeResult", "merge_folders"]

_SIMULATED: Final = frozenset({"sim", "loopback"})
_CARRIED_META: Final = (
    "manifest",
    "endpoint",
    "currency",
    ENDPOINT_META,
    MANIFEST_PRINT_META,
    MANIFEST_TASKS_META,
)
_JOURNAL_FILES: Final = (JOURNAL_NAME, f"{JOURNAL_NAME}-wal", f"{JOURNAL_NAME}-shm")


@dataclass(slots=True)
class _Folder:
    """One folder being merged: its facts and its tasks."""

    path: Path
    meta: dict[str, str]
    records: list[TaskRecord]
    specs: dict[str, TaskSpec]
    positions: dict[str, int]
    live: str | None  #: who holds its lock, when a run is still going on in it


@dataclass(slots=True)
class _Pick:
    folder: int
    record: TaskRecord


@dataclass(slots=True)
class MergeResult:
    """What `merge_folders` did, for the command's summary."""

    out: Path
    folders: int = 0
    states: dict[TaskState, int] = field(default_factory=dict)
    duplicates: int = 0
    linked: int = 0
    copied: int = 0
    unsound: list[str] = field(default_factory=list)  #: done videos left out, and why
    live: list[str] = field(default_factory=list)  #: folders whose run was still going on
    missing_shards: list[str] = field(default_factory=list)
    missing_tasks: int = 0  #: tasks of the manifest that no folder holds
    accounts: dict[str, tuple[int, float]] = field(default_factory=dict)  #: done tasks and cost by account

    @property
    def complete(self) -> bool:
        """Every task of the manifest is in the merged folder, done."""
        done = self.states.get(TaskState.DONE, 0)
        return not self.missing_tasks and not self.missing_shards and done == sum(self.states.values())


def merge_folders(
    out: Path, folders: Sequence[Path], *, allow_mixed: bool = False, copy: bool = False
) -> MergeResult:
    """Merge `folders` into `out` (created, or replaced when it holds an earlier merge)."""
    sources = [_read(path) for path in _distinct(out, folders)]
    _check_compatible(sources, allow_mixed)
    picks, duplicates, unsound = _pick(sources)
    _clear_earlier_merge(out)
    result = MergeResult(out, folders=len(sources), duplicates=duplicates, unsound=unsound)
    result.live = [f"{source.path} (in use by {source.live})" for source in sources if source.live]
    _place_files(out, sources, picks, result, copy=copy)
    _write_journal(out, sources, picks)
    current = [pick.record for pick in picks.values() if pick.record.superseded_by is None]
    for record in current:
        result.states[record.state] = result.states.get(record.state, 0) + 1
    for pick in picks.values():
        account = sources[pick.folder].meta[ACCOUNT_META]
        if account and pick.record.state is TaskState.DONE:
            done, cost = result.accounts.get(account, (0, 0.0))
            result.accounts[account] = (done + 1, cost + (pick.record.cost or 0.0))
    result.missing_shards = _missing_shards(sources)
    result.missing_tasks = max(0, _manifest_tasks(sources) - len(current)) if not allow_mixed else 0
    return result


# -- reading and checking ---------------------------------------------------------------


def _distinct(out: Path, folders: Sequence[Path]) -> list[Path]:
    if not folders:
        raise ConfigError("Name the run or shard folders to merge, e.g. outputs/dataset/shard-*.")
    seen: dict[Path, Path] = {}
    for folder in folders:
        if not (folder / JOURNAL_NAME).is_file():
            msg = (
                f"{folder} is not a run folder (it has no {JOURNAL_NAME}); give the folders "
                "`runner run` wrote."
            )
            raise ConfigError(msg)
        real = folder.resolve()
        if real == out.resolve():
            raise ConfigError(f"{folder} is the folder to merge into; merge into a new folder instead.")
        seen.setdefault(real, folder)
    return list(seen.values())


def _read(path: Path) -> _Folder:
    store = Store.open_readonly(path / JOURNAL_NAME)
    if store is None:  # its run is creating the journal this instant
        raise ConfigError(f"{path} has no journal yet; merge it once its run has started.")
    with store:
        names = (*_CARRIED_META, SHARD_META, MERGED_FROM_META, ACCOUNT_META)
        meta = {name: store.get_meta(name) or "" for name in names}
        specs = {spec.id: spec for spec in store.specs()}
        return _Folder(path, meta, store.records(), specs, store.positions(), folder_in_use(path))


def _check_compatible(sources: list[_Folder], allow_mixed: bool) -> None:
    currencies = {source.meta["currency"] for source in sources if source.meta["currency"]}
    if len(currencies) > 1:
        listed = _by_value(sources, "currency")
        raise ConfigError(
            f"These folders' costs are in different currencies and cannot be added up: {listed}."
        )
    kinds = {source.meta[ENDPOINT_META] in _SIMULATED for source in sources if source.meta[ENDPOINT_META]}
    if len(kinds) > 1:
        listed = _by_value(sources, ENDPOINT_META)
        msg = (
            f"Some folders hold the simulator's videos and others an account's: {listed}. "
            "Merge each kind apart."
        )
        raise ConfigError(msg)
    prints = {source.meta[MANIFEST_PRINT_META] for source in sources}
    if len(prints) > 1 and not allow_mixed:
        listed = "; ".join(f"{s.path}: {s.meta['manifest'] or 'unknown manifest'}" for s in sources)
        msg = (
            f"These folders were run from different manifests (or versions of one: rows were added or "
            f"edited between them): {listed}. Merge them anyway with --allow-mixed, or run the missing "
            "shards again from one manifest."
        )
        raise ConfigError(msg)


def _by_value(sources: list[_Folder], name: str) -> str:
    return "; ".join(f"{source.path}: {source.meta[name] or 'unknown'}" for source in sources)


# -- choosing one copy of each task ---------------------------------------------------------


def _pick(sources: list[_Folder]) -> tuple[dict[str, _Pick], int, list[str]]:
    """One record per task id; how many ids were found more than once; unsound done videos."""
    picks: dict[str, _Pick] = {}
    duplicates = 0
    unsound: list[str] = []
    for index, source in enumerate(sources):
        for record in source.records:
            if record.state is TaskState.DONE:
                problem = video_problem(source.path, record)
                if problem is not None:
                    unsound.append(f"{record.id} in {source.path}: its video is {problem.problem}")
                    continue
            earlier = picks.get(record.id)
            if earlier is not None:
                duplicates += 1
                if _rank(earlier.record) <= _rank(record):
                    continue
            picks[record.id] = _Pick(index, record)
    return picks, duplicates, unsound


def _rank(record: TaskRecord) -> int:
    """Lower is better: done, then anything sent, then never sent."""
    if record.state is TaskState.DONE:
        return 0
    return 2 if record.state is TaskState.PLANNED else 1


def _missing_shards(sources: list[_Folder]) -> list[str]:
    shards = [source.meta[SHARD_META] for source in sources if source.meta[SHARD_META]]
    counts = {text.split("/")[1] for text in shards}
    if len(counts) != 1 or len(shards) != len(sources):
        return []
    count = int(counts.pop())
    seen = {int(text.split("/")[0]) for text in shards}
    return [f"{index}/{count}" for index in range(count) if index not in seen]


def _manifest_tasks(sources: list[_Folder]) -> int:
    totals = [int(source.meta[MANIFEST_TASKS_META]) for source in sources if source.meta[MANIFEST_TASKS_META]]
    return max(totals, default=0)


# -- writing the merged folder ------------------------------------------------------------------


def _clear_earlier_merge(out: Path) -> None:
    """Make room in `out`: new or empty, or an earlier merge (its journal and videos go)."""
    if not out.exists() or not any(out.iterdir()):
        return
    earlier = Store.open_readonly(out / JOURNAL_NAME)
    merged = False
    if earlier is not None:
        with earlier:
            merged = bool(earlier.get_meta(MERGED_FROM_META))
    if not merged:
        msg = f"{out} already holds files that are not an earlier merge; merge into a new or empty folder."
        raise ConfigError(msg)
    for name in _JOURNAL_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / VIDEOS_DIR, ignore_errors=True)


def _place_files(
    out: Path, sources: list[_Folder], picks: dict[str, _Pick], result: MergeResult, copy: bool
) -> None:
    (out / VIDEOS_DIR).mkdir(parents=True, exist_ok=True)
    for pick in picks.values():
        record = pick.record
        if record.state is not TaskState.DONE:
            continue
        folder = sources[pick.folder].path
        relative = record.video_path or f"{VIDEOS_DIR}/{record.id}.mp4"
        for name in (relative, f"{VIDEOS_DIR}/{record.id}.json"):
            if (folder / name).is_file():
                _place(folder / name, out / name, result, copy)
    for source in sources:
        inputs = source.path / INPUTS_DIR
        for path in sorted(inputs.iterdir()) if inputs.is_dir() else ():
            if path.is_file() and not (out / INPUTS_DIR / path.name).exists():
                _place(path, out / INPUTS_DIR / path.name, result, copy)


def _place(source: Path, target: Path, result: MergeResult, copy: bool) -> None:
    """`target` becomes `source`'s content: a hard link, or a copy where links cannot be made."""
    if link_or_copy(source, target, copy=copy):
        result.linked += 1
    else:
        result.copied += 1


def _write_journal(out: Path, sources: list[_Folder], picks: dict[str, _Pick]) -> None:
    order = sorted(picks.values(), key=lambda p: (sources[p.folder].positions[p.record.id], p.folder))
    specs = [sources[pick.folder].specs[pick.record.id] for pick in order]
    positions = [sources[pick.folder].positions[pick.record.id] for pick in order]
    with Store.open(out / JOURNAL_NAME) as store:
        store.add_tasks(specs, positions)
        for pick in order:
            if pick.record.state is not TaskState.PLANNED or pick.record.attempts:
                fields = dataclasses.asdict(pick.record)
                for name in ("id", "key", "state", "updated_at"):
                    fields.pop(name)
                store.set_state(pick.record.id, pick.record.state, reason="merged", **fields)
        for name in _CARRIED_META:
            values = {source.meta[name] for source in sources}
            store.set_meta(name, values.pop() if len(values) == 1 else "")
        store.set_meta(MERGED_FROM_META, json.dumps([str(source.path) for source in sources]))
        write_status_table(out, store)
        write_report(out, store)
