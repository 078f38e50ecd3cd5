"""A lost journal is rebuilt from what the run folder still holds, never paid for again.

The journal (state.sqlite) is a run's memory. When it is missing, empty or damaged (set
aside) while the folder shows an earlier run, `runner run` rebuilds it before anything is
submitted, from the two records every run leaves beside it:

- each sidecar (videos/<id>.json) whose request is a manifest task's (same key) and whose
  video still matches its recorded size and SHA-256 makes that task done again, with its
  DashScope task id, usage, cost and times;
- each status.csv row of a task sent to DashScope (same key) puts it back as it stood: in
  flight with its task id (the poller then asks how it ended), ambiguous (looked up again),
  or failed, expired, cancelled with its code.

What neither record shows, the tasks created after status.csv was last written, is left
to the engine's first step (runner.engine.reconciliation.passes.Reconciler.claim_orphans): it counts the
account's tasks no row knows and looks those up by their echo before sending anything.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from runner.core import TaskRecord, TaskState
from runner.journal import Store
from runner.outputs import CSV_NAME, VIDEOS_DIR, video_problem

__all__ = ["ORPHAN_CHECK", "Rebuilt", "has_earlier_run", "rebuild_journal", "sidecar_endpoint"]

log = logging.getLogger(__name__)

ORPHAN_CHECK: Final = "orphan_check"  #: meta row: the engine must look for unclaimed tasks first
_IN_FLIGHT: Final = frozenset({"pending", "running", "succeeded", "downloading", "done"})
_UNCERTAIN: Final = frozenset({"submitting", "ambiguous"})
_ENDED: Final = frozenset({"failed", "expired", "cancelled"})
_SAFE_QUOTE: Final = ("'=", "'+", "'-", "'@", "'\t", "'\r")  #: status.csv's formula guard


@dataclass(slots=True)
class Rebuilt:
    """What the rebuild found."""

    done: int = 0
    in_flight: int = 0
    ended: int = 0
    uncertain: int = 0

    def __str__(self) -> str:
        return (
            f"{self.done} done (from their sidecars), {self.in_flight} in flight and "
            f"{self.uncertain} uncertain (from status.csv), {self.ended} failed or expired"
        )


def has_earlier_run(run_dir: Path) -> bool:
    """Whether the folder holds what an earlier run leaves: sidecars or a status table."""
    return (run_dir / CSV_NAME).is_file() or any((run_dir / VIDEOS_DIR).glob("*.json"))


def sidecar_endpoint(run_dir: Path) -> str | None:
    """The endpoint the folder's sidecars say made their videos (the first that says one)."""
    for path in sorted((run_dir / VIDEOS_DIR).glob("*.json")):
        endpoint = _read_json(path).get("endpoint")
        if isinstance(endpoint, str):
            return endpoint
    return None


def rebuild_journal(store: Store, run_dir: Path) -> Rebuilt:
    """Restore the journal's tasks (already added from the manifest) from sidecars and status.csv.
    A sidecar of another version of a task (another key) is moved, with its video, to that
    version's own id, so the new version cannot overwrite it."""
    result = Rebuilt()
    keys = {record.id: record.key for record in store.records()}
    for path in sorted((run_dir / VIDEOS_DIR).glob("*.json")):
        data = _read_json(path)
        task = str(data.get("id", ""))
        if task in keys and isinstance(data.get("key"), str) and data["key"] != keys[task]:
            _set_aside(path, f"{task}~{data['key'][:8]}")
            continue
        if keys.get(task) != data.get("key") or store.record(task).state is TaskState.DONE:
            continue
        record = _done_record(task, keys[task], data)
        if video_problem(run_dir, record, full=True) is None:
            store.set_state(task, TaskState.DONE, reason="rebuilt", **_fields(record))
            result.done += 1
    for row in _status_rows(run_dir / CSV_NAME):
        task = row.get("id") or ""
        if keys.get(task) != row.get("key") or store.record(task).state is not TaskState.PLANNED:
            continue
        _restore(store, task, row, result)
    store.set_meta(ORPHAN_CHECK, "1")
    return result


def _restore(store: Store, task: str, row: dict[str, str], result: Rebuilt) -> None:
    state, task_id = row.get("state", ""), row.get("task_id") or None
    common: dict[str, Any] = {
        "attempts": int(row.get("attempts") or 1),
        "request_id": row.get("request_id") or None,
        "account": row.get("account") or None,  # its polls and reconciliation use that account
    }
    if state in _IN_FLIGHT and task_id:
        store.set_state(task, TaskState.PENDING, reason="rebuilt", task_id=task_id, **common)
        result.in_flight += 1
    elif state in _UNCERTAIN:
        store.set_state(task, TaskState.AMBIGUOUS, reason="rebuilt", **common)
        result.uncertain += 1
    elif state in _ENDED:
        error = {
            "error_code": row.get("error_code") or None,
            "error_message": row.get("error_message") or None,
        }
        store.set_state(task, TaskState(state), reason="rebuilt", task_id=task_id, **common, **error)
        result.ended += 1


def _set_aside(sidecar: Path, earlier: str) -> None:
    """Move a sidecar and its video to an earlier version's id (unless one is there already)."""
    for source in (sidecar.with_suffix(".mp4"), sidecar):
        target = source.with_name(earlier + source.suffix)
        if source.is_file() and not target.exists():
            source.replace(target)


_RESTORED: Final = (
    "attempts",
    "task_id",
    "request_id",
    "account",
    "submit_time",
    "scheduled_time",
    "end_time",
    "video_path",
    "video_sha256",
    "video_size",
    "cost",
    "usage",
    "actual_prompt",
    "orig_prompt",
)


def _done_record(task: str, key: str, data: dict[str, Any]) -> TaskRecord:
    video = data.get("video") or {}
    fields: dict[str, Any] = {name: data.get(name) for name in _RESTORED if not name.startswith("video_")}
    fields |= {
        "video_path": video.get("path"),
        "video_sha256": video.get("sha256"),
        "video_size": video.get("size"),
    }
    fields["attempts"] = int(data.get("attempts") or 1)
    return TaskRecord(id=task, key=key, state=TaskState.DONE, **fields)


def _fields(record: TaskRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _RESTORED}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("The sidecar %s cannot be read; its task is not restored from it.", path)
        return {}
    return data if isinstance(data, dict) else {}


def _status_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return [
                {name: _unguarded(value) for name, value in row.items()} for row in csv.DictReader(handle)
            ]
    except (OSError, ValueError, csv.Error):
        log.warning("The status table %s cannot be read; tasks in flight are not restored from it.", path)
        return []


def _unguarded(value: str | None) -> str:
    text = value or ""
    return text[1:] if text.startswith(_SAFE_QUOTE) else text
