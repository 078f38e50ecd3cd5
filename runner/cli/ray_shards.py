"""`runner run MANIFEST --ray --shards N`: the manifest's shards as Ray tasks, then one merge.

Each shard is `runner run MANIFEST --shard i/N` with the same options, run inside a Ray
worker (one long-lived process per shard, each taking account `i mod len(accounts)`). A
worker that dies (its node lost, a kill) is retried by Ray: the shard's journal makes that
a resume, never a second payment. The launching process prints each shard's progress, read
from the shard folders' journals (run folders must live on storage every node sees), and
merges the shard folders into `<out>/<name>/merged/` at the end.

Keys are never shipped through Ray: each node reads its account's key from its own
environment variable or key file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import click

from runner.cli.merge import summary_lines
from runner.cli.quiet import conclude
from runner.core import ConfigError, TaskState
from runner.journal import JOURNAL_NAME, Store
from runner.manifest import Manifest, Shard, run_folder, take_shard
from runner.outputs import merge_folders
from runner.session import EXIT_FAILED_TASKS, EXIT_OK, EXIT_STOPPED, EXIT_USAGE

__all__ = ["MERGED_NAME", "run_on_ray", "shard_argv"]

MERGED_NAME: Final = "merged"  #: the merged dataset folder, beside the shard folders
RAY_OPTIONS: Final = frozenset({"ray", "ray_address", "shards", "progress", "shard", "out"})
_PROGRESS_EVERY_S: Final = 10.0
_MAX_RETRIES: Final = 3  #: Ray reruns a shard whose worker died, this many times


def shard_argv(
    command: click.Command, manifest: Path, out: Path, params: Mapping[str, Any], shard: Shard
) -> list[str]:
    """The `runner run` arguments of one shard: the launching command's own options (those
    given, paths made absolute for the workers), with its shard and no live display."""
    argv = [
        "run",
        str(manifest.resolve()),
        "--out",
        str(out.resolve()),
        "--shard",
        str(shard),
        "--no-progress",
    ]
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in RAY_OPTIONS or param.name is None:
            continue
        value = params.get(param.name)
        if value is None or value == param.default or (param.multiple and not value):
            continue
        argv += _option_args(param, value)
    return argv


def _option_args(param: click.Option, value: Any) -> list[str]:
    if param.is_flag:
        if param.secondary_opts:
            return [param.opts[0] if value else param.secondary_opts[0]]
        return [param.opts[0]] if value else []
    values = value if param.multiple else (value,)
    return [arg for item in values for arg in (param.opts[0], _text(item))]


def _text(value: Any) -> str:
    return str(value.resolve()) if isinstance(value, Path) else str(value)


def run_on_ray(
    command: click.Command,
    manifest_path: Path,
    loaded: Manifest,
    out: Path,
    params: Mapping[str, Any],
    *,
    count: int,
    address: str | None,
) -> int:
    """Run `count` shards on Ray (the cluster at `address`, else a local one), print their
    progress, merge them; the exit code (the worst shard's, else 3 if the merge is incomplete)."""
    ray = _import_ray()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=True)
    shards = [Shard(index, count) for index in range(count)]
    folders = [run_folder(take_shard(loaded, shard), out) for shard in shards]
    remote = ray.remote(max_retries=_MAX_RETRIES, retry_exceptions=False, num_cpus=0.5)(_run_shard)
    root = click.get_current_context().find_root().command
    pending = {
        remote.remote(root, shard_argv(command, manifest_path, out, params, shard)): shard for shard in shards
    }
    quiet = bool(params.get("quiet"))  # the shards get --quiet too (shard_argv)
    _say(
        quiet,
        f"Running {count} shards on Ray ({_where(ray)}); folders {folders[0].parent}/shard-*-of-{count}/.",
    )
    codes: dict[Shard, int] = {}
    last = time.monotonic()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        for ref in ready:
            shard = pending.pop(ref)
            codes[shard] = _exit_code(ray, ref, shard)
            _say(
                quiet, f"Shard {shard} finished (exit {codes[shard]}): {_progress_of(folders[shard.index])}."
            )
        if time.monotonic() - last >= _PROGRESS_EVERY_S and pending:
            last = time.monotonic()
            _say(
                quiet,
                "Progress: " + "; ".join(f"{s}: {_progress_of(folders[s.index])}" for s in pending.values()),
            )
    result = merge_folders(
        folders[0].parent / MERGED_NAME, [f for f in folders if (f / JOURNAL_NAME).is_file()]
    )
    worst = max(codes.values(), default=EXIT_OK)
    code = worst if worst != EXIT_OK else EXIT_OK if result.complete else EXIT_FAILED_TASKS
    conclude(summary_lines(result), quiet=quiet, ok=code == EXIT_OK)
    return code


def _say(quiet: bool, line: str) -> None:
    """A progress line, unless --quiet."""
    if not quiet:
        click.echo(line)


def _run_shard(root: click.Command, argv: list[str]) -> int:
    """In a Ray worker: `runner ARGV` (`root`: the `runner` command group, sent by reference),
    its exit code (never a SystemExit out of the worker)."""
    try:
        root.main(argv, prog_name="runner", standalone_mode=False)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    except click.ClickException as error:
        error.show()
        return EXIT_USAGE
    return EXIT_OK


def _exit_code(ray: Any, ref: Any, shard: Shard) -> int:
    """The shard's exit code; a shard Ray gave up on (its workers died every time) is stopped."""
    try:
        return int(ray.get(ref))
    except Exception as error:  # Ray's own error types: a lost worker, a lost node
        click.echo(f"Shard {shard} did not finish on Ray ({type(error).__name__}); run it again to resume.")
        return EXIT_STOPPED


def _progress_of(folder: Path) -> str:
    store = Store.open_readonly(folder / JOURNAL_NAME)
    if store is None:
        return "not started"
    with store:
        counts = store.counts()
    total = sum(counts.values())
    return f"{counts.get(TaskState.DONE, 0)}/{total} done"


def _where(ray: Any) -> str:
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    return f"{len(nodes)} node{'s' if len(nodes) != 1 else ''}"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        msg = "--ray needs Ray, an optional extra: pip install 'runner[ray]' (or pip install ray)."
        raise ConfigError(msg) from None
    return ray
