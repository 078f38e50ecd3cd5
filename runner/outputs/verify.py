"""Do the folder's finished videos still hold what the journal says they hold?

A video can be deleted, truncated or replaced after its run (by hand, a sync tool, a full
disk's cleanup). Every run checks that each done video is present with its journalled
size (one stat each), and `--verify` also compares its SHA-256; `runner status --verify`
does the same without touching anything. A run fetches a missing or altered video again
while DashScope still has it (runner.engine.startup).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runner.outputs.videos import VIDEOS_DIR

__all__ = ["JournalledVideo", "VideoProblem", "video_problem"]


class JournalledVideo(Protocol):
    """What the journal says of a done task's video (a TaskRecord, or a journal.DoneVideo)."""

    @property
    def id(self) -> str: ...

    @property
    def video_path(self) -> str | None: ...

    @property
    def video_sha256(self) -> str | None: ...

    @property
    def video_size(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class VideoProblem:
    """What is wrong with one done task's video."""

    task: str
    path: str  #: relative to the run folder
    problem: str  #: "missing", "N bytes instead of M", "its SHA-256 differs"

    def __str__(self) -> str:
        """`videos/a.mp4 is missing`, `videos/a.mp4 has 10 bytes instead of 65536`."""
        verb = "is" if self.problem == "missing" else "has"
        return f"{self.path} {verb} {self.problem}"


def video_problem(run_dir: Path, record: JournalledVideo, *, full: bool = False) -> VideoProblem | None:
    """The problem with a done task's video, or None when it is as journalled (`full`: hash it)."""
    relative = record.video_path or f"{VIDEOS_DIR}/{record.id}.mp4"
    path = os.path.join(run_dir, relative)  # not pathlib: a resume checks 100,000 of these
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return VideoProblem(record.id, relative, "missing")
    if record.video_size is not None and size != record.video_size:
        return VideoProblem(record.id, relative, f"{size} bytes instead of {record.video_size}")
    if full and record.video_sha256 is not None and _sha256(Path(path)) != record.video_sha256:
        return VideoProblem(record.id, relative, "a SHA-256 that differs from the one recorded")
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
