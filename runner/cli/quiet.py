"""`--quiet`, for cron and CI: a command that went well prints nothing.

cron mails whatever a job prints, so a nightly `runner run --quiet` writes only when a person
is needed: warnings and errors still go to stderr as they happen, and a run that did not end
with exit 0 (failed tasks, stopped early, an account error) still prints its summary. Progress,
the live display and informational lines are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import click

from runner.cli.terminal import terminal_safe

__all__ = ["QUIET_HELP", "conclude", "quiet_option"]

F = TypeVar("F", bound=Callable[..., Any])

QUIET_HELP: Final = "For cron: print nothing if all went well; warnings, errors and the summary otherwise."


def quiet_option(function: F) -> F:
    """The `--quiet`/`-q` flag (a bool parameter named `quiet`)."""
    return click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)(function)


def conclude(lines: Sequence[str], *, quiet: bool, ok: bool, err: bool = False) -> None:
    """Print a command's closing lines, unless it went well (`ok`) and `quiet` was asked; on
    stderr with `err` (`runner run --json` keeps stdout for its JSON line)."""
    if quiet and ok:
        return
    for line in lines:
        click.echo(terminal_safe(line), err=err)
