"""Tasks the manifest changed between runs: their earlier versions are kept, and said so.

The journal keeps an edited task's earlier version under an id of its own (`<id>~<key8>`,
runner.journal.store.Store.add_tasks): a create still in flight is collected by the run, its cost
stays in the folder's total. This module moves a finished earlier version's video and
sidecar to that id, so the new version never overwrites them, and words the notice a run
prints about the edits and what redoing them costs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from runner.core import Endpoint, TaskSpec, TaskState, task_cost
from runner.journal import Store, Superseded
from runner.outputs.sidecars import write_sidecar
from runner.outputs.verify import video_problem
from runner.outputs.videos import VIDEOS_DIR

__all__ = ["describe_edits", "keep_earlier_videos"]

log = logging.getLogger(__name__)

_LISTED: Final = 5


def keep_earlier_videos(run_dir: Path, store: Store) -> int:
    """Move each finished earlier version's video and sidecar to its own id; how many moved.

    Safe to repeat: a crash between the journal's change and the move is mended on the next
    run, before any new video can take the old name. A file that is not the earlier
    version's (its size or hash differ) is left where it is.
    """
    moved = 0
    for record in store.records([TaskState.DONE]):
        target = f"{VIDEOS_DIR}/{record.id}.mp4"
        if record.superseded_by is None or record.video_path in (None, target):
            continue
        source = run_dir / (record.video_path or "")
        if video_problem(run_dir, record, full=True) is not None:
            continue
        source.replace(run_dir / target)
        source.with_suffix(".json").unlink(missing_ok=True)
        record = store.amend(record.id, "set_aside", video_path=target)
        write_sidecar(run_dir, store.spec(record.id), record, endpoint=store.endpoint)
        moved += 1
    return moved


def describe_edits(changed: Sequence[Superseded], specs: Sequence[TaskSpec], endpoint: Endpoint) -> str:
    """The notice of a run whose manifest changed tasks since the last run."""
    by_id = {spec.id: spec for spec in specs}
    costs = [task_cost(by_id[change.task], endpoint) for change in changed if change.task in by_id]
    cost = sum(c for c in costs if c is not None)
    names = ", ".join(change.task for change in changed[:_LISTED])
    more = f" and {len(changed) - _LISTED} more" if len(changed) > _LISTED else ""
    lines = [
        f"{len(changed)} task(s) changed since the last run ({names}{more}): they will be generated "
        f"again, for about {cost:.2f} {endpoint.currency}."
    ]
    kept = [change for change in changed if change.earlier is not None]
    if kept:
        shown = ", ".join(f"{c.earlier} ({_fate(c.state)})" for c in kept[:_LISTED])
        lines.append(f"Their earlier versions stay in the folder under their own ids: {shown}.")
    return " ".join(lines)


def _fate(state: TaskState) -> str:
    if state is TaskState.DONE:
        return "its video is kept"
    if state in (TaskState.FAILED, TaskState.EXPIRED, TaskState.CANCELLED):
        return state.value
    return "still in flight: this run collects it"
