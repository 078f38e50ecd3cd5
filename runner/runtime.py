"""The process `runner` runs in: uvloop as its event loop, and a C heap kept for reuse.

The download pool's limit on a fast link is its one event-loop thread: it reads every
transfer's bytes and keeps losing the GIL to the threads that write, hash and fsync them.

- uvloop (libuv, in C) spends less of that thread on each socket read: 1 MB videos from a
  loopback server arrived at 0.84 of raw httpx instead of 0.76 (bench/downloads.py, paired
  turns). It has no Windows build; there asyncio's own loop runs the same code.
- A download allocates and frees megabytes of received bytes every few milliseconds, in
  several threads. By default glibc hands the freed top of a heap back to the kernel and
  takes it back for the next bytes. Keeping up to 64 MiB of it (glibc's M_TRIM_THRESHOLD)
  moved 1 MB videos at 193 MB/s instead of 178 (median of 12 paired turns, 2.24 s of CPU
  instead of 2.33), and raised no peak: the pool's buffers are bounded anyway
  (runner.downloads.HELD_BYTES_PER_TRANSFER). At 20 and 200 MB it makes no difference: the
  kernel time it seemed to save there came from large writes (runner.results._WRITE_BYTES).
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import sys
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar, TypeVarTuple

import anyio

__all__ = ["keep_freed_heap", "run", "uses_uvloop"]

T = TypeVar("T")
Args = TypeVarTuple("Args")

_M_TRIM_THRESHOLD: Final = -1  #: from glibc's malloc.h
_KEPT_HEAP_BYTES: Final = 64 * 1024 * 1024


@functools.cache
def uses_uvloop() -> bool:
    """Whether `run` runs on uvloop: it does wherever uvloop is installed."""
    return importlib.util.find_spec("uvloop") is not None


@functools.cache  # a setting of the process: once is enough
def keep_freed_heap() -> bool:
    """Let the C heap keep up to 64 MiB of freed memory for reuse. False where the C library
    has no `mallopt` that accepts it (macOS, Windows; musl ignores it)."""
    if not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the C library this process runs on
    return mallopt is not None and mallopt(_M_TRIM_THRESHOLD, _KEPT_HEAP_BYTES) == 1


def run(func: Callable[[*Args], Awaitable[T]], *args: *Args) -> T:
    """`anyio.run(func, *args)` in the process `runner` runs in."""
    keep_freed_heap()
    return anyio.run(func, *args, backend_options={"use_uvloop": uses_uvloop()})
