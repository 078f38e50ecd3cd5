"""`export_run`: a run folder's finished videos as a dataset in one of three formats.

It reads the journal only (no lock: a run may go on meanwhile, and then its videos done so
far are exported), checks each video against it (size, SHA-256) and probes it, and writes the
export in a staging folder that replaces the target whole when complete (folder.py). Every
export holds `export.json`: the format, the run, the counts, the files, what was left out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from runner import __version__
from runner.core import ConfigError
from runner.journal import JOURNAL_NAME, Store
from runner.outputs.export.card import RunFacts, render_card, run_facts
from runner.outputs.export.folder import Placer, check_target, staged, write_marker
from runner.outputs.export.hf import SPLIT, write_hf
from runner.outputs.export.jsonl import write_jsonl
from runner.outputs.export.rows import LeftOut, Selection, select_rows
from runner.outputs.export.tar_shards import DEFAULT_SHARD_BYTES, Shard, write_shards

__all__ = ["FORMATS", "ExportFormat", "ExportResult", "default_target", "export_run"]

ExportFormat = Literal["hf", "webdataset", "jsonl"]
FORMATS: Final[tuple[ExportFormat, ...]] = ("hf", "webdataset", "jsonl")


@dataclass(slots=True)
class ExportResult:
    """What `export_run` wrote, for the command's summary."""

    format: ExportFormat
    folder: Path
    facts: RunFacts
    rows: int = 0
    videos: int = 0
    left_out: list[LeftOut] = field(default_factory=list)
    failed: int = 0  #: tasks that ended without a video, not asked for
    not_finished: int = 0
    earlier_versions: int = 0
    linked: int = 0
    copied: int = 0
    shards: list[Shard] = field(default_factory=list)


def default_target(run_dir: Path, fmt: ExportFormat) -> Path:
    """Where an export goes without --to: beside the run folder, `<run>-<format>`."""
    named = run_dir if run_dir.name not in ("", ".", "..") else run_dir.resolve()
    return named.with_name(f"{named.name}-{fmt}")


def export_run(
    run_dir: Path,
    fmt: ExportFormat,
    target: Path,
    *,
    include_failed: bool = False,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    copy: bool = False,
) -> ExportResult:
    """Export the run folder's videos to `target` (created, or replaced if an earlier export)."""
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    check_target(target, run_dir)
    store = Store.open_readonly(run_dir / JOURNAL_NAME)
    if store is None:
        msg = f"{run_dir} holds no run (there is no {JOURNAL_NAME}); give the folder `runner run` wrote to."
        raise ConfigError(msg)
    with store:
        selection = select_rows(run_dir, store, include_failed=include_failed)
        facts = run_facts(run_dir, store)
    result = ExportResult(fmt, target, facts)
    placer = Placer(copy=copy)
    with staged(target) as stage:
        if fmt == "hf":
            write_hf(stage, run_dir, selection, placer)
            card = render_card(facts, selection, SPLIT, target.name)
            (stage / "README.md").write_text(card, encoding="utf-8")
        elif fmt == "jsonl":
            write_jsonl(stage, run_dir, selection, placer)
        else:
            result.shards = write_shards(stage, run_dir, selection, name=facts.name, shard_bytes=shard_bytes)
        _count(result, selection, placer)
        write_marker(stage, _marker(result, run_dir, include_failed))
    return result


def _count(result: ExportResult, selection: Selection, placer: Placer) -> None:
    result.rows = len(selection.rows)
    result.videos = sum(1 for row in selection.rows if row.video is not None)
    result.left_out = selection.left_out
    result.failed = selection.failed
    result.not_finished = selection.not_finished
    result.earlier_versions = selection.earlier_versions
    result.linked, result.copied = placer.linked, placer.copied


def _marker(result: ExportResult, run_dir: Path, include_failed: bool) -> dict[str, Any]:
    facts = result.facts
    return {
        "format": result.format,
        "run_folder": str(run_dir.resolve()),
        "manifest": facts.manifest,
        "endpoint": facts.endpoint,
        "run_state": facts.run_state,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runner_version": __version__,
        "include_failed": include_failed,
        "rows": result.rows,
        "videos": result.videos,
        "cost": facts.cost,
        "currency": facts.currency,
        "left_out": [{"id": item.task, "reason": item.reason} for item in result.left_out],
        "not_exported": {
            "failed": result.failed,
            "not_finished": result.not_finished,
            "earlier_versions": result.earlier_versions,
        },
        "shards": [{"name": s.name, "samples": s.samples, "bytes": s.size} for s in result.shards],
    }
