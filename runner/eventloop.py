"""The event loop `runner` runs on: uvloop where it is installed, else asyncio's own.

The download pool's limit on a fast link is its one event-loop thread: it reads every
transfer's bytes and keeps losing the GIL to the threads that write, hash and fsync them.
uvloop (libuv, in C) spends less of that thread on each socket read: 1 MB videos from a
loopback server arrived 10 % faster with it, 0.76 -> 0.84 of raw httpx (bench/downloads.py,
paired turns), and raw httpx itself gained nothing from it. uvloop has no Windows build;
there asyncio's own loop runs the same code.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from typing import TypeVar, TypeVarTuple

import anyio

__all__ = ["run", "uses_uvloop"]

T = TypeVar("T")
Args = TypeVarTuple("Args")


def uses_uvloop() -> bool:
    """Whether `run` runs on uvloop: it does wherever uvloop is installed."""
    return importlib.util.find_spec("uvloop") is not None


def run(func: Callable[[*Args], Awaitable[T]], *args: *Args) -> T:
    """`anyio.run(func, *args)` on the event loop `runner` uses."""
    return anyio.run(func, *args, backend_options={"use_uvloop": uses_uvloop()})
