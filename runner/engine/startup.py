"""Startup of a run: bring an interrupted journal back to states a new process can act on.

- SUBMITTING rows (the process died around a POST) become AMBIGUOUS: reconcile them;
- DOWNLOADING rows go back to SUCCEEDED (their `.part` files are removed): fetch again;
- DONE rows whose video is missing or altered (runner.outputs.verify) go back to SUCCEEDED: fetch again;
- with --retry-failed, failed tasks worth retrying and expired tasks are PLANNED again;
- PLANNED rows are ordered longest expected generation first (LPT trims the run's tail).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from runner.core import Event, TaskRecord, TaskSpec, TaskState, estimate_generation_s, get_model
from runner.engine.runstats import is_retryable
from runner.journal import Store
from runner.outputs import remove_stale_parts, video_problem

__all__ = ["Recovered", "recover_journal"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Recovered:
    """What the journal holds for this run to do."""

    done_before: int = 0
    retried: int = 0
    in_flight: list[TaskRecord] = field(default_factory=list)  #: pending/running/ambiguous: hold slots
    to_download: list[str] = field(default_factory=list)
    to_submit: list[str] = field(default_factory=list)  #: in submission order


def recover_journal(
    store: Store,
    run_dir: Path,
    *,
    wanted: Callable[[str], bool],
    retry_failed: bool = False,
    retry_codes: Collection[str] = (),
    verify: bool = False,
) -> Recovered:
    """Repair the journal after an interruption and say what is left to do (`verify`: hash
    every done video too, not only check its size)."""
    _fetch_lost_videos(store, run_dir, full=verify)
    result = Recovered(done_before=store.counts().get(TaskState.DONE, 0))
    removed = remove_stale_parts(run_dir)
    if removed:
        log.info("Removed %d partial files left by an interrupted run.", removed)
    for record in store.records([TaskState.SUBMITTING]):
        store.transition(record.id, Event.REPLY_LOST, detail={"reason": "interrupted during submit"})
    for record in store.records([TaskState.DOWNLOADING]):
        store.transition(record.id, Event.DOWNLOAD_INTERRUPTED, detail={"reason": "interrupted"})
    if retry_failed:
        result.retried = _plan_retries(store, wanted, retry_codes)
    result.in_flight = store.records([TaskState.PENDING, TaskState.RUNNING, TaskState.AMBIGUOUS])
    result.to_download = [r.id for r in store.records([TaskState.SUCCEEDED])]
    planned = [(store.spec(r.id), r.id) for r in store.records([TaskState.PLANNED]) if wanted(r.id)]
    planned.sort(key=lambda item: -expected_duration(item[0]))  # stable: manifest order among equals
    result.to_submit = [task for _, task in planned]
    return result


def _fetch_lost_videos(store: Store, run_dir: Path, *, full: bool) -> None:
    """Send every done task whose video is missing or altered back to be downloaded again."""
    for video in store.done_videos():
        problem = video_problem(run_dir, video, full=full)
        if problem is None:
            continue
        log.warning("Task %r: its video %s; downloading it again.", video.id, problem)
        store.transition(
            video.id,
            Event.VIDEO_LOST,
            video_path=None,
            video_sha256=None,
            video_size=None,
            detail={"problem": problem.problem, "path": problem.path, "sha256": video.video_sha256},
        )


def expected_duration(spec: TaskSpec) -> float:
    """The catalogue's typical generation time for this task's shape (0 for unknown models)."""
    model = get_model(spec.model)
    return estimate_generation_s(model, spec.resolution, spec.duration) if model else 0.0


def _plan_retries(store: Store, wanted: Callable[[str], bool], codes: Collection[str]) -> int:
    count = 0
    for record in store.records([TaskState.FAILED, TaskState.EXPIRED]):
        if not wanted(record.id):
            continue
        worth = is_retryable(record.error_code, record.error_message) or record.error_code in (
            *codes,
            "InputFileChanged",
        )
        if record.state is TaskState.EXPIRED or worth:
            store.transition(record.id, Event.RETRY, detail={"code": record.error_code})
            count += 1
    return count
