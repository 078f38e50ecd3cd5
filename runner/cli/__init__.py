"""The `runner` command line: click commands, the only place errors become user output.

Each command lives in its own module of this package; this module holds the root
group and the translation of RunnerError into a message and an exit code
(0 done, 1 bad input, 3 failed tasks, 4 stopped early, 5 account; README, exit codes).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from runner.cli import cancel, export, merge, models, plan, report, run, sim, status
from runner.cli.terminal import terminal_safe
from runner.core import AccountError, RunnerError
from runner.session import EXIT_ACCOUNT, EXIT_USAGE

__all__ = ["main"]


class _RunnerGroup(click.Group):
    """A click group that turns RunnerError into one clear message and the right exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AccountError as exc:
            click.echo(f"Error: {terminal_safe(str(exc))}", err=True)
            sys.exit(EXIT_ACCOUNT)
        except RunnerError as exc:
            click.echo(f"Error: {terminal_safe(str(exc))}", err=True)
            sys.exit(EXIT_USAGE)


@click.group(cls=_RunnerGroup)
@click.version_option(package_name="runner", prog_name="runner")
def main() -> None:
    """Run manifests of DashScope Wan image-to-video tasks: resumable, within quota, verified.

    Start with `runner plan manifests/demo.yaml`, then `runner run manifests/demo.yaml`
    (the demo uses the built-in simulator: no account, no network).
    """


def _register() -> None:
    for module in (plan, run, cancel, sim, status, report, merge, export, models):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
