"""Verified videos: `videos/<task>.mp4` is complete or absent, never partial.

A video is written to `videos/<task>.mp4.part`, hashed as it arrives, checked (size,
MP4 signature), fsynced and renamed into place. Every temporary file of a run folder ends
in `.part`, so one sweep (`remove_stale_parts`) cleans up after a crash.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Final, TypeVar

from runner.core import DownloadError
from runner.outputs.durable import DISK_FULL_ERRNOS, PART_SUFFIX, fsync_dir

__all__ = [
    "INPUTS_DIR",
    "VIDEOS_DIR",
    "VideoFile",
    "VideoWriter",
    "check_task_name",
    "disk_full_error",
    "remove_stale_parts",
]

VIDEOS_DIR: Final = "videos"
INPUTS_DIR: Final = "inputs"  #: copies of local input images, so the report travels with the folder
_MP4_BRAND_OFFSET: Final = 4
#: Start the kernel's write-back every this many new bytes, so the closing fsync has little left.
_WRITEBACK_BYTES: Final = 16 * 1024 * 1024
#: The most bytes handed to the kernel in one write: longer writes fill larger page-cache
#: folios, which cost far more kernel time on a virtual machine (BENCHMARKS.md, downloads).
_WRITE_BYTES: Final = 128 * 1024

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class VideoFile:
    """A verified video in place: where it is (relative to the run folder), its hash and size."""

    path: str
    sha256: str
    size: int


class VideoWriter:
    """Streams one task's video to a `.part` file and renames it into place once verified.

    A download that breaks off keeps its bytes and hash state, so the next try can resume with a
    Range request from `size`. Use as a context manager: leaving the block before `finish()`
    removes the `.part`.
    """

    def __init__(self, run_dir: Path, task: str, expected_size: int | None) -> None:
        check_task_name(task)
        self.task = task
        self.expected_size = expected_size
        self._run_dir = run_dir
        self._final = run_dir / VIDEOS_DIR / f"{task}.mp4"
        self._part = self._final.with_name(self._final.name + PART_SUFFIX)
        self._file: IO[bytes] | None = None
        self._hash = hashlib.sha256()
        self._size = 0
        self._written_back = 0  #: bytes handed to the kernel's write-back so far
        self._head = b""

    def write(self, chunk: bytes) -> None:
        """Append `chunk` to the `.part` file; DownloadError(disk_full=True) when the disk is full."""
        if self._file is None:
            self._file = self._disk_op(lambda: self._open_part())
        file = self._file
        self._disk_op(lambda: _write_in_pieces(file, chunk))
        self._hash.update(chunk)
        self._size += len(chunk)
        if len(self._head) < 12:
            self._head = (self._head + chunk)[:12]
        if self._size - self._written_back >= _WRITEBACK_BYTES:
            self._disk_op(lambda: self._start_writeback(file))

    def _start_writeback(self, file: IO[bytes]) -> None:
        """Start writing the new bytes to disk now, so the closing fsync has little left.

        Left alone, the kernel holds a large video in memory until that fsync, which then
        waits for all of it while the network sits idle. POSIX_FADV_DONTNEED starts the
        write-back without waiting (Linux), and the pages are not kept cached once written:
        a run's videos are not read again. Elsewhere the fsync does all the work, as before.
        """
        file.flush()
        if hasattr(os, "posix_fadvise"):
            length = self._size - self._written_back
            os.posix_fadvise(file.fileno(), self._written_back, length, os.POSIX_FADV_DONTNEED)
        self._written_back = self._size

    def finish(self) -> VideoFile:
        """Verify, fsync and rename the video into place; DownloadError (and no `.part`) if it fails."""
        if self._file is None:
            self._file = self._disk_op(lambda: self._open_part())
        problem = self._verify()
        if problem is not None:
            self.abort()
            raise DownloadError(problem)
        file = self._file
        self._disk_op(lambda: _flush_and_sync(file))
        file.close()
        os.replace(self._part, self._final)
        self._file = None  # only now: until the rename, abort() has a .part to remove
        fsync_dir(self._final.parent)
        relative = self._final.relative_to(self._run_dir).as_posix()
        return VideoFile(path=relative, sha256=self._hash.hexdigest(), size=self._size)

    @property
    def size(self) -> int:
        """Bytes saved so far: where a resumed download continues."""
        return self._size

    def abort(self) -> None:
        """Close and remove the `.part` file and start again from byte 0; safe to call more than once.

        Only a `.part` this writer opened is removed: after finish() there is none, and the
        event loop is spared a system call per video."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._part.unlink(missing_ok=True)
        self._hash = hashlib.sha256()
        self._size = self._written_back = 0
        self._head = b""

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()  # after finish() there is no .part left to remove

    def _open_part(self) -> IO[bytes]:
        # Open first: a failed mkdir and its stat for every video cost the event loop a tenth of
        # a millisecond each, and only a run's first video finds no videos/ folder.
        try:
            return self._part.open("wb")
        except FileNotFoundError:
            self._part.parent.mkdir(parents=True, exist_ok=True)
            return self._part.open("wb")

    def _verify(self) -> str | None:
        where = f"The video of task {self.task!r}"
        if self.expected_size is not None and self._size != self.expected_size:
            return (
                f"{where} is incomplete: received {self._size} bytes, the server announced "
                f"{self.expected_size}. It will be downloaded again."
            )
        if self._head[_MP4_BRAND_OFFSET : _MP4_BRAND_OFFSET + 4] != b"ftyp":
            return (
                f"{where} is not an MP4 file ({self._size} bytes received, no 'ftyp' box at offset 4; "
                f"first bytes {self._head[:12]!r}). It will be downloaded again."
            )
        return None

    def _disk_op(self, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except OSError as exc:
            if exc.errno not in DISK_FULL_ERRNOS:
                raise
            saved = self._size
            self.abort()
            raise disk_full_error(
                self._run_dir, f"the video of task {self.task!r} after {saved:,} bytes"
            ) from exc


def disk_full_error(run_dir: Path, saving: str) -> DownloadError:
    msg = (
        f"The disk holding {run_dir} is full (or over quota) while saving {saving}. Free some space "
        "and run the same manifest again: finished videos are kept and this one will be fetched again."
    )
    return DownloadError(msg, disk_full=True)


def remove_stale_parts(run_dir: Path) -> int:
    """Delete the `.part` files a crashed run left in the run folder; returns how many."""
    removed = 0
    for folder in (run_dir, run_dir / VIDEOS_DIR, run_dir / INPUTS_DIR):
        if not folder.is_dir():
            continue
        for part in folder.glob(f"*{PART_SUFFIX}"):
            if part.is_file():
                part.unlink(missing_ok=True)
                removed += 1
    return removed


def check_task_name(task: str) -> None:
    # Task ids become file names; the manifest validates them, this is the last line of defence.
    if not task or task.startswith(".") or "/" in task or "\\" in task or "\0" in task:
        msg = f"Task id {task!r} cannot be used as a file name."
        raise ValueError(msg)


def _flush_and_sync(file: IO[bytes]) -> None:
    file.flush()
    os.fsync(file.fileno())


def _write_in_pieces(file: IO[bytes], data: bytes) -> None:
    """Write `data` at most _WRITE_BYTES at a time."""
    view = memoryview(data)
    for start in range(0, len(view), _WRITE_BYTES):
        file.write(view[start : start + _WRITE_BYTES])
