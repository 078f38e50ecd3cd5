"""`runner report OUT_OR_MANIFEST`: write (or rewrite) a run folder's report.html."""

from __future__ import annotations

from pathlib import Path

import click

from runner.cli.options import find_run_folder, run_folder_options
from runner.cli.quiet import conclude, quiet_option
from runner.cli.status import open_journal
from runner.core import TaskState
from runner.outputs import PROBLEM_STATES, write_report

__all__ = ["COMMANDS", "report"]


@click.command()
@click.argument("target", metavar="OUT_OR_MANIFEST", type=click.Path(path_type=Path))
@run_folder_options
@quiet_option
def report(
    target: Path, out: Path, name: str | None, model: str | None, shard: str | None, quiet: bool
) -> None:
    """Write OUT/report.html: a self-contained gallery of the run's videos, prompts and errors.

    `runner run` writes it at the end of every run; use this to refresh it (for example
    while a run is going on). Open it in any browser; it needs no network.
    """
    folder = find_run_folder(target, out, name, model, shard)
    store = open_journal(folder)
    if store is None:
        return
    with store:
        path = write_report(folder, store)
        counts = store.counts()
    total = sum(counts.values())
    problems = sum(counts.get(state, 0) for state in PROBLEM_STATES)
    done = counts.get(TaskState.DONE, 0)
    conclude([f"Wrote {path}: {total} tasks, {done} done, {problems} with problems."], quiet=quiet, ok=True)


COMMANDS: list[click.Command] = [report]
