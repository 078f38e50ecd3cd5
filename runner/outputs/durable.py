"""Durable files: published whole or not at all, and a full disk named as such.

A file is written to a `.part` beside its final name, fsynced, renamed over it, and its
folder fsynced (without that last step the rename itself can be lost in a power cut).
Every temporary file of a run folder ends in `.part`, so one sweep cleans up after a crash.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

__all__ = ["DISK_FULL_ERRNOS", "PART_SUFFIX", "atomic_write", "fsync_dir", "link_or_copy"]

PART_SUFFIX: Final = ".part"
DISK_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
#: a hard link cannot be made here (another file system, not allowed, too many links): copy
_COPY_INSTEAD: Final = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES})


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yield a `.part` path to write; on success fsync it and rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The pid and thread keep two writers (a run and `runner report`, or a run's status writer
    # beside its event loop) from sharing one temporary file.
    part = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_native_id()}{PART_SUFFIX}")
    try:
        yield part
        with part.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def link_or_copy(source: Path, target: Path, *, copy: bool = False) -> bool:
    """`target` becomes `source`'s content, replacing any file there: a hard link (no extra space;
    the run's files are never written again in place), or a copy where no link can be made or
    `copy` asks for one. Whether it was linked."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_native_id()}{PART_SUFFIX}")
    part.unlink(missing_ok=True)
    if not copy:
        try:
            os.link(source, part)
        except OSError as exc:
            if exc.errno not in _COPY_INSTEAD:
                raise
        else:
            os.replace(part, target)
            return True
    try:
        shutil.copyfile(source, part)
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return False
