"""The flags that pick a manifest's run, shared by the commands: overrides, shard, account.

`manifest_options` (plan, run) set or override manifest values, so a CSV can be planned or
run on its own with `--model` and friends; `load_from_options` loads the manifest with them
and takes the shard and the account this process drives (runner.session.sources, shared with
the Python API, whose keyword arguments have the same names). `run_folder_options` and
`find_run_folder` (status, report) find a run's folder from the folder itself or its manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import click

from runner.core import ConfigError
from runner.manifest import Manifest, run_folder
from runner.session import ManifestOptions, load_source

__all__ = [
    "find_run_folder",
    "load_from_options",
    "manifest_options",
    "run_folder_options",
    "shard_option",
]

F = TypeVar("F", bound=Callable[..., Any])

MANIFEST_SUFFIXES: Final = frozenset({".yaml", ".yml", ".csv"})


def manifest_options(func: F) -> F:
    """The flags that set or override manifest values (all optional), for plan and run."""
    options = [
        click.option("--name", help="Run name (output folder); may use {date}. Default: the file's stem."),
        click.option("--endpoint", help="sim, beijing, singapore, virginia or an https://host base URL."),
        click.option("--model", help="Model for rows that name none (needed for a bare CSV)."),
        click.option("--resolution", help="Default resolution tier, e.g. 720P."),
        click.option("--duration", type=int, help="Default video length in seconds."),
        click.option("--seed", type=int, help="Default seed."),
        click.option("--prompt-extend/--no-prompt-extend", default=None, help="Default prompt rewriting."),
        click.option("--watermark/--no-watermark", default=None, help="Default watermark."),
        click.option("--audio/--no-audio", default=None, help="Default soundtrack (wan2.6-i2v-flash)."),
        click.option(
            "--concurrency", type=int, help="Tasks in flight at once, per model (default: the model's quota)."
        ),
        click.option(
            "--submit-rate", type=float, help="Submissions per second, per model (default: its quota)."
        ),
        click.option("--max-cost", type=float, help="Stop submitting past this cost."),
        click.option("--max-wall-time", help='Stop submitting after this long, e.g. "2h" or "30m".'),
        shard_option,
        click.option("--account", help="The account (of the manifest's `accounts:`) this process drives."),
        click.option(
            "--accounts",
            "accounts_file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="A YAML file listing the accounts, in place of the manifest's `accounts:`.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


shard_option = click.option(
    "--shard",
    metavar="i/N",
    help="Only shard i of N (0 <= i < N; auto/N reads JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID), "
    "in its own folder shard-i-of-N/.",
)


def load_from_options(path: Path, options: dict[str, Any]) -> Manifest:
    """Load the manifest with the values of `manifest_options` as overrides, take its shard and
    the account this process drives (all of them when there are several and none is named)."""
    given = {key: value for key, value in options.items() if value is not None}
    return load_source(path, cast(ManifestOptions, given))


def run_folder_options(func: F) -> F:
    """`--out`, `--name`, `--model`: how to find the run folder of a manifest (as `runner run` does)."""
    options = [
        click.option(
            "--out",
            type=click.Path(path_type=Path, file_okay=False),
            default=Path("outputs"),
            show_default=True,
            help="Folder holding the runs, when given a manifest.",
        ),
        click.option("--name", help="Run name, when the run was started with --name."),
        click.option("--model", help="Model, when given a bare CSV that names none."),
        click.option("--shard", metavar="i/N", help="The shard's folder, when the run used --shard."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def find_run_folder(
    target: Path, out: Path, name: str | None = None, model: str | None = None, shard: str | None = None
) -> Path:
    """The run folder for `target`: the folder itself, or the one a manifest's run writes to."""
    if target.is_dir():
        return target
    if target.suffix.lower() in MANIFEST_SUFFIXES and target.is_file():
        manifest = load_from_options(target, {"name": name, "model": model, "shard": shard})
        return run_folder(manifest, out)
    msg = (
        f"{target} is neither a run folder nor a manifest (.yaml, .yml or .csv). "
        "Give the folder a run wrote to (e.g. outputs/demo) or the manifest you ran."
    )
    raise ConfigError(msg)
