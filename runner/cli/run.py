"""`runner run MANIFEST`: the command-line face of runner.session's run.

The run itself (journal, folder claim, engine over every account, report, summary.json,
webhook and on-finish command) is runner.session.execution, shared with `runner.run`. This
module adds what only a command has: Ctrl-C handlers, logging, the live view, `--quiet`,
`--json`, the printed summary and the exit status: 0 all done · 1 bad input · 3 finished with
failed tasks · 4 stopped early, resumable · 5 account-level error.

With `--json`, stdout carries one line, the run's summary as JSON, printed last; the live
view, logs and the summary for people go to stderr.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import anyio
import click
from rich.console import Console

from runner.cli.interrupts import Interrupts
from runner.cli.logs import run_logging
from runner.cli.options import load_from_options, manifest_options
from runner.cli.quiet import conclude, quiet_option
from runner.cli.ray_shards import run_on_ray
from runner.cli.terminal import terminal_safe
from runner.core import ConfigError
from runner.engine import NO_TRACE, Trace
from runner.journal import JOURNAL_NAME
from runner.outputs import render_summary
from runner.session import (
    DEFAULT_SIM_TIME_SCALE,
    SUMMARY_NAME,
    RunOptions,
    execute,
    prepare_run,
    show_progress,
)

__all__ = ["COMMANDS", "run"]

#: options of the run as a whole, which `--ray` cannot pass on to its shards
_WHOLE_RUN_OPTIONS = ("as_json", "notify", "on_finish", "trace")


@click.command()
@click.argument("manifest", type=click.Path(path_type=Path))  # the loader explains a folder
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True
)
@manifest_options
@click.option(
    "--queue-ahead", type=click.IntRange(min=0), help="Tasks submitted beyond the concurrency quota."
)
@click.option(
    "--data-url-max",
    type=click.IntRange(min=0),
    help="Local images up to this many bytes go inline as data: URLs; larger are uploaded (default 1 MB).",
)
@click.option("--max-attempts", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--retry-failed", is_flag=True, help="Submit again failed/expired tasks worth retrying.")
@click.option("--retry-code", multiple=True, help="With --retry-failed: also retry this error code.")
@click.option("--verify", is_flag=True, help="Check every done video's SHA-256 (its size is always checked).")
@click.option(
    "--max-video-mb",
    type=click.FloatRange(min=1),
    help="Refuse a video larger than this (default: 64 MB plus 8-16 MB per second of video).",
)
@click.option("--api-key-file", type=click.Path(path_type=Path, dir_okay=False), help="File holding the key.")
@click.option("--sim-profile", default="default", show_default=True, help="Embedded simulator preset.")
@click.option(
    "--sim-time-scale", type=click.FloatRange(min=0, min_open=True),
    help=f"Embedded simulator: real seconds per simulated second (default {DEFAULT_SIM_TIME_SCALE}, "
    "the fast profile's 0.001; 1 is real time).",
)  # fmt: skip
@click.option("--sim-seed", type=int, help="Embedded simulator seed.")
@click.option("--progress/--no-progress", default=None, help="Live display (default: on a terminal).")
@click.option("--verbose", is_flag=True, help="Debug logs, HTTP requests included (the key is redacted).")
@quiet_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print the run's summary as one JSON line, last on stdout."
)
@click.option("--notify", metavar="URL", help="POST the run's summary (JSON) to this webhook when it ends.")
@click.option(
    "--notify-on",
    type=click.Choice(["always", "failure"]),
    default="always",
    show_default=True,
    help="failure: notify only when the run did not end with every task done.",
)
@click.option(
    "--on-finish", metavar="CMD", help=f"Run CMD when the run ends, with the path of its {SUMMARY_NAME} last."
)
@click.option(
    "--trace",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write each task's steps with their times to this file (JSON lines): where a slot's seconds go.",
)
@click.option("--ray", is_flag=True, help="Run --shards N shards as Ray tasks, then merge them.")
@click.option("--ray-address", help="With --ray: the Ray cluster to use (default: start a local one).")
@click.option("--shards", type=click.IntRange(min=1), help="With --ray: how many shards.")
def run(
    manifest: Path,
    out: Path,
    retry_code: tuple[str, ...],
    progress: bool | None,
    verbose: bool,
    quiet: bool,
    as_json: bool,
    trace: Path | None,
    ray: bool,
    ray_address: str | None,
    shards: int | None,
    **options: Any,
) -> None:
    """Run MANIFEST's tasks: submit within quota, poll, download, verify; resume on re-run.

    Finished tasks are never touched again; in-flight ones are polled again; uncertain
    submissions are looked up before anything is resent. Ctrl-C stops cleanly (exit 4).
    """
    if ray or shards is not None or ray_address is not None:
        _refuse_whole_run_options(options | {"as_json": as_json, "trace": trace})
        sys.exit(_on_ray(manifest, out, options, ray, shards, ray_address))
    prepared = prepare_run(manifest, cast(RunOptions, options | {"out": out, "retry_codes": retry_code}))
    console = Console(highlight=False, stderr=as_json)
    live = not quiet and (console.is_terminal if progress is None else progress)
    watch = functools.partial(show_progress, console=console, live=live)
    # the handlers stay until the summary is out: a 2nd Ctrl-C then quits, never a traceback
    with (
        Interrupts() as interrupts,
        run_logging(console, live, secrets=prepared.secrets, verbose=verbose, quiet=quiet),
    ):
        with _tracing(trace) as steps:
            result = anyio.run(execute, prepared, watch, interrupts, steps)
        output = (
            f"Output: {result.folder}/ (videos/, status.csv, status.parquet, report.html, {JOURNAL_NAME})"
        )
        conclude([render_summary(result.summary), output], quiet=quiet, ok=result.ok, err=as_json)
        if result.account_error is not None:
            click.echo(f"Error: {terminal_safe(str(result.account_error))}", err=True)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    sys.exit(result.exit_code)


def _refuse_whole_run_options(options: dict[str, Any]) -> None:
    given = [name for name in _WHOLE_RUN_OPTIONS if options.get(name)]
    if given:
        flags = ", ".join("--" + name.removeprefix("as_").replace("_", "-") for name in given)
        verb = "applies" if len(given) == 1 else "apply"
        msg = (
            f"{flags} {verb} to one run, and --ray runs many shards and merges them: run without "
            "--ray (one process, or --shard i/N per machine) to use them."
        )
        raise ConfigError(msg)


@contextmanager
def _tracing(path: Path | None) -> Iterator[Trace]:
    """The run's trace: written to `path`, or none."""
    if path is None:
        yield NO_TRACE
        return
    try:  # only the opening is the trace's: an OSError of the run itself is not blamed on it
        stream = path.open("w", encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"The trace file {path} cannot be written ({error.strerror}).") from None
    with stream:
        yield Trace(stream)


def _on_ray(
    manifest: Path, out: Path, options: dict[str, Any], ray: bool, shards: int | None, address: str | None
) -> int:
    if not ray or shards is None or options.get("shard"):
        raise ConfigError("Run shards on Ray with --ray --shards N (and no --shard: Ray runs them all).")
    loaded = load_from_options(manifest, options)
    context = click.get_current_context()
    return run_on_ray(context.command, manifest, loaded, out, context.params, count=shards, address=address)


COMMANDS: list[click.Command] = [run]
