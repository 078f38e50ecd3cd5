"""Whether a run folder's run is going on, finished, stopped, or was interrupted.

A live run holds the folder's lock (the kernel lets go of it when the process dies, however
it dies). A run records `started_at` when it starts and `finished_at` (with the reason it
stopped early, if it did) when it ends; a start without an end and no lock held is a run
that was killed, crashed or lost its machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runner.journal import MERGED_FROM_META, STOP_REASON_META, Store, folder_in_use
from runner.outputs.summary import stop_advice

__all__ = ["RunState", "run_state"]

_RESUME = (
    "Run the same command again to resume; uncertain submissions are looked up before anything is sent again."
)


@dataclass(frozen=True, slots=True)
class RunState:
    """One word for scripts (`running`, `finished`, `stopped`, `interrupted`, `merged`,
    `not started`) and a sentence for people: what it means and what to do."""

    state: str
    detail: str


def run_state(folder: Path, store: Store) -> RunState:
    holder = folder_in_use(folder)
    ours = holder is not None and f"runner pid {os.getpid()} " in holder  # the run writing its own report
    if holder is not None and not (ours and store.get_meta("finished_at")):
        return RunState("running", f"Running now: {holder}.")
    if store.get_meta(MERGED_FROM_META):
        return RunState("merged", "Made by `runner merge` from shard or run folders.")
    if not store.get_meta("started_at"):
        return RunState("not started", "No run has started in this folder yet.")
    if not store.get_meta("finished_at"):
        detail = f"The last run ended without finishing (killed, crashed, or its machine stopped). {_RESUME}"
        return RunState("interrupted", detail)
    reason = store.get_meta(STOP_REASON_META)
    if reason:
        return RunState("stopped", stop_advice(reason))
    return RunState("finished", "The last run finished.")
