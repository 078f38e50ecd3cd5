"""Where an export goes: a folder of its own, published whole, replaced whole by the next export.

The export is built in a hidden staging folder beside its target and renamed into place when
complete, so the target holds a finished export (or the earlier one), never part of one.
`export.json` marks a folder as an export and says what is in it; a target holding anything
else, the run folder itself or a folder that holds the run folder is refused before any work.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from runner.core import ConfigError
from runner.outputs.durable import fsync_dir, link_or_copy

__all__ = ["MARKER", "Placer", "check_target", "read_marker", "staged", "write_marker"]

MARKER: Final = "export.json"


def check_target(target: Path, run_dir: Path) -> None:
    """ConfigError unless `target` is new, empty, or an earlier export outside the run folder."""
    real, run = target.resolve(), run_dir.resolve()
    if real == run or run.is_relative_to(real):
        msg = f"{target} is the run folder or holds it; export to another folder (--to DIR)."
        raise ConfigError(msg)
    if real.is_relative_to(run):
        msg = f"{target} is inside the run folder {run_dir}; export beside it instead (--to DIR)."
        raise ConfigError(msg)
    if real.is_file():
        raise ConfigError(f"{target} is a file; export to a folder (--to DIR).")
    if real.is_dir() and any(real.iterdir()) and read_marker(real) is None:
        msg = f"{target} already holds files that are not an earlier export; export to a new or empty folder."
        raise ConfigError(msg)


def read_marker(folder: Path) -> dict[str, Any] | None:
    """What an earlier export wrote in `export.json`, or None when the folder holds none."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_marker(folder: Path, data: dict[str, Any]) -> None:
    """Write `export.json`: the export's facts, for people and scripts."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    (folder / MARKER).write_text(text + "\n", encoding="utf-8")


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A fresh staging folder; on success it becomes `target` (an earlier export is replaced),
    on failure it is removed and `target` is left as it was."""
    stage = target.with_name(f".{target.name}.{os.getpid()}.part")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    earlier = target.with_name(f".{target.name}.{os.getpid()}.earlier")
    if target.exists():
        target.rename(earlier)
    stage.rename(target)
    fsync_dir(target.parent)
    shutil.rmtree(earlier, ignore_errors=True)


@dataclass
class Placer:
    """Puts the run's files into the export: hard links (no extra space), or copies where links
    cannot be made or `copy` asks; a file many rows share (an input) is placed once."""

    copy: bool = False
    linked: int = 0
    copied: int = 0

    def place(self, source: Path, target: Path) -> None:
        if target.exists():
            return
        if link_or_copy(source, target, copy=self.copy):
            self.linked += 1
        else:
            self.copied += 1
