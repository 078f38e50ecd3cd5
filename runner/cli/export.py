"""`runner export OUT_OR_MANIFEST --format hf|webdataset|jsonl`: a run folder as a dataset.

Exit 0 when every done video is in the export; 3 when some were left out (missing, altered or
not decoding: each is named); 1 when the folder cannot be exported.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Final, cast

import click

from runner.cli.options import find_run_folder, run_folder_options
from runner.cli.terminal import terminal_safe
from runner.core import ConfigError
from runner.outputs import (
    DEFAULT_SHARD_BYTES,
    FORMATS,
    ExportFormat,
    ExportResult,
    default_target,
    export_run,
)
from runner.session import EXIT_FAILED_TASKS, EXIT_OK

__all__ = ["COMMANDS", "export", "parse_size", "summary_lines"]

_SHOWN: Final = 10  #: videos left out listed one by one before "and N more"
_DECIMAL: Final = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9}
_UNITS: Final = {**_DECIMAL, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_SIZE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_FORMAT_NAMES: Final = {
    "hf": "Hugging Face videofolder",
    "webdataset": "WebDataset tar shards",
    "jsonl": "JSON lines of results",
}


@click.command()
@click.argument("target", metavar="OUT_OR_MANIFEST", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="The dataset layout.")
@click.option(
    "--to",
    "to",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write (replaced if it holds an earlier export). Default: beside the run, <run>-<format>.",
)
@click.option(
    "--include",
    type=click.Choice(["failed"]),
    multiple=True,
    help="Also rows for tasks that ended without a video (failed, expired, cancelled).",
)
@click.option(
    "--shard-size",
    default="1GB",
    show_default=True,
    help="webdataset: the most bytes per tar shard (500MB, 2GB, 1GiB...).",
)
@click.option("--copy", is_flag=True, help="Copy the videos instead of hard-linking them (hf, jsonl).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON line, for scripts.")
@run_folder_options
def export(
    target: Path,
    fmt: str,
    to: Path | None,
    include: tuple[str, ...],
    shard_size: str,
    copy: bool,
    as_json: bool,
    out: Path,
    name: str | None,
    model: str | None,
    shard: str | None,
) -> None:
    """Write a run's finished videos as a dataset: hf, webdataset or jsonl.

    OUT_OR_MANIFEST is the run folder (outputs/demo) or the manifest that ran. Each video is
    checked against the journal (size, SHA-256) and probed with PyAV (width, height, fps, frames,
    length, codec, sound); a video that is missing, altered or does not decode is left out and
    named. Videos are hard-linked when the export is on the same file system (no extra space).
    """
    folder = find_run_folder(target, out, name, model, shard)
    export_format = cast(ExportFormat, fmt)
    result = export_run(
        folder,
        export_format,
        to or default_target(folder, export_format),
        include_failed="failed" in include,
        shard_bytes=parse_size(shard_size) if fmt == "webdataset" else DEFAULT_SHARD_BYTES,
        copy=copy,
    )
    code = EXIT_FAILED_TASKS if result.left_out else EXIT_OK
    if as_json:
        click.echo(json.dumps(export_json(result, code), ensure_ascii=False))
    else:
        for line in summary_lines(result, folder):
            click.echo(terminal_safe(line))
    sys.exit(code)


def export_json(result: ExportResult, exit_code: int) -> dict[str, object]:
    """The outcome as numbers and names, for scripts (`--json`)."""
    return {
        "format": result.format,
        "folder": str(result.folder),
        "rows": result.rows,
        "videos": result.videos,
        "left_out": [{"task": item.task, "reason": item.reason} for item in result.left_out],
        "failed": result.failed,
        "not_finished": result.not_finished,
        "earlier_versions": result.earlier_versions,
        "linked": result.linked,
        "copied": result.copied,
        "shards": [{"name": s.name, "samples": s.samples, "bytes": s.size} for s in result.shards],
        "exit_code": exit_code,
    }


def parse_size(text: str) -> int:
    """Bytes of "1GB", "500MB", "1.5GiB" or a plain number; ConfigError for anything else."""
    match = _SIZE.match(text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _UNITS or float(match.group(1)) <= 0:
        raise ConfigError(f"--shard-size {text!r} is not a size; write it like 1GB, 500MB or 2GiB.")
    return int(float(match.group(1)) * _UNITS[unit])


def summary_lines(result: ExportResult, run_dir: Path) -> list[str]:
    """What a person reads after an export: what is in it, what is not, how to load it."""
    out = result.folder
    kind = _FORMAT_NAMES[result.format]
    lines = [f"Exported {result.rows} rows ({result.videos} videos) of {run_dir} to {out}/ ({kind})."]
    if result.facts.run_state == "running":
        lines.append("The run is still going on: this export holds the videos done so far.")
    if result.format == "webdataset":
        sizes = ", ".join(f"{s.name} ({s.samples} samples, {s.size / 1e6:.1f} MB)" for s in result.shards)
        lines.append(f"Shards: {sizes or 'none'}.")
    else:
        files = [
            f"{result.linked} linked" if result.linked else "",
            f"{result.copied} copied" if result.copied else "",
        ]
        lines.append(f"Files: {', '.join(part for part in files if part) or 'none'}.")
    skipped = [
        f"{result.failed} failed (add --include failed)" if result.failed else "",
        f"{result.not_finished} not finished" if result.not_finished else "",
        f"{result.earlier_versions} earlier versions of edited tasks" if result.earlier_versions else "",
    ]
    if any(skipped):
        lines.append(f"Not exported: {', '.join(part for part in skipped if part)}.")
    for item in result.left_out[:_SHOWN]:
        lines.append(f"Left out: {item}.")
    if len(result.left_out) > _SHOWN:
        lines.append(
            f"... and {len(result.left_out) - _SHOWN} more videos left out (all in {out}/export.json)."
        )
    lines.append(_how_to_load(result))
    return lines


def _how_to_load(result: ExportResult) -> str:
    out = result.folder
    if result.format == "hf":
        return f'Load it: datasets.load_dataset("videofolder", data_dir="{out}", split="train")'
    if result.format == "jsonl":
        return f"Results: {out}/results.jsonl (videos in {out}/videos/)."
    if not result.shards:
        return "No shard was written: there was nothing to export."
    last = len(result.shards) - 1
    return f'Read it: webdataset.WebDataset("{out}/{result.facts.name}-{{000000..{last:06d}}}.tar")'


COMMANDS: list[click.Command] = [export]
