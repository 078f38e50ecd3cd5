"""`runner merge OUT_DIR FOLDER...`: shard or run folders into one dataset folder.

Exit 0 when every task of the manifest is in OUT_DIR and done; 3 when some are not (still
to run, failed, or in a shard folder not given); 1 when the folders cannot be merged.
"""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

import click

from runner.cli.quiet import conclude, quiet_option
from runner.core import ConfigError, TaskState
from runner.outputs import MergeResult, merge_folders
from runner.session import EXIT_FAILED_TASKS, EXIT_OK

__all__ = ["COMMANDS", "merge"]

_SHOWN: int = 10  #: unsound videos listed one by one before "and N more"


@click.command()
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("folders", nargs=-1, required=True)
@click.option("--copy", is_flag=True, help="Copy the videos instead of hard-linking them.")
@click.option("--allow-mixed", is_flag=True, help="Merge folders run from different manifests too.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON line, for scripts.")
@quiet_option
def merge(
    out_dir: Path, folders: tuple[str, ...], copy: bool, allow_mixed: bool, as_json: bool, quiet: bool
) -> None:
    """Combine shard or run FOLDERS into OUT_DIR: one status table, one report, each task once.

    FOLDERS may be glob patterns ('outputs/dataset/shard-*'). Videos and sidecars are
    hard-linked when OUT_DIR is on the same file system (no extra space), else copied.
    Merging again into the same OUT_DIR replaces the earlier merge.
    """
    result = merge_folders(out_dir, _expand(folders), allow_mixed=allow_mixed, copy=copy)
    code = EXIT_OK if result.complete else EXIT_FAILED_TASKS
    if as_json:
        click.echo(json.dumps(merge_json(result, code), ensure_ascii=False))
    else:
        conclude(summary_lines(result), quiet=quiet, ok=result.complete)
    sys.exit(code)


def merge_json(result: MergeResult, exit_code: int) -> dict[str, object]:
    """The outcome as numbers and names, for scripts (`--json`)."""
    return {
        "out": str(result.out),
        "folders": result.folders,
        "counts": {state.value: count for state, count in sorted(result.states.items())},
        "complete": result.complete,
        "duplicates": result.duplicates,
        "accounts": {name: {"done": n, "cost": cost} for name, (n, cost) in sorted(result.accounts.items())},
        "linked": result.linked,
        "copied": result.copied,
        "missing_shards": list(result.missing_shards),
        "missing_tasks": result.missing_tasks,
        "still_running": [str(folder) for folder in result.live],
        "left_out": [str(problem) for problem in result.unsound],
        "exit_code": exit_code,
    }


def _expand(patterns: tuple[str, ...]) -> list[Path]:
    """Each argument as a folder, or the folders its glob pattern matches (the shell's or ours)."""
    folders: list[Path] = []
    for pattern in patterns:
        if Path(pattern).exists() or not glob.has_magic(pattern):
            folders.append(Path(pattern))
            continue
        matches = sorted(Path(match) for match in glob.glob(pattern) if Path(match).is_dir())
        if not matches:
            raise ConfigError(f"No folder matches {pattern!r}; give the run or shard folders to merge.")
        folders.extend(matches)
    return folders


def summary_lines(result: MergeResult) -> list[str]:
    """What a person reads after a merge: what is in OUT_DIR, what is not, what to do."""
    total = sum(result.states.values())
    done = result.states.get(TaskState.DONE, 0)
    others = ", ".join(
        f"{count} {state.value}"
        for state, count in sorted(result.states.items())
        if state is not TaskState.DONE
    )
    lines = [f"Merged {result.folders} folders into {result.out}/: {total} tasks, {done} done."]
    if others:
        lines.append(f"Not done: {others}. Run their shards again (same command), then merge again.")
    if result.duplicates:
        lines.append(f"{result.duplicates} tasks were in more than one folder; each is kept once.")
    for account, (count, cost) in sorted(result.accounts.items()):
        lines.append(f"  account {account}: {count} done, cost {cost:.2f}")
    files = f"{result.linked} linked" + (f", {result.copied} copied" if result.copied else "")
    lines.append(f"Files: {files}.")
    if result.missing_shards:
        lines.append(f"Missing shards: {', '.join(result.missing_shards)} (no folder given for them).")
    if result.missing_tasks:
        lines.append(f"{result.missing_tasks} tasks of the manifest are in none of these folders.")
    for folder in result.live:
        lines.append(f"Still running: {folder}; merge again when it has finished.")
    for problem in result.unsound[:_SHOWN]:
        lines.append(f"Left out: {problem}; `runner run` on that shard fetches it again.")
    if len(result.unsound) > _SHOWN:
        lines.append(f"... and {len(result.unsound) - _SHOWN} more videos left out.")
    return lines


COMMANDS: list[click.Command] = [merge]
