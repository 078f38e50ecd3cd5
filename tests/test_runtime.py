"""The process `runner` runs in: uvloop wherever it is installed (its loop reads sockets with
less of the one thread every download shares), asyncio's own loop elsewhere, and a C heap
that keeps freed memory for the next received bytes where glibc allows it."""

from __future__ import annotations

import asyncio
import platform
import sys

import pytest

from runner import runtime


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_runs_on_uvloop_where_it_is_installed() -> None:
    if sys.platform == "win32":
        pytest.skip("uvloop has no Windows build; runner runs on asyncio's loop there")
    assert runtime.uses_uvloop()
    assert runtime.run(_loop_module).startswith("uvloop")


def test_passes_arguments_and_returns_the_result() -> None:
    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    assert runtime.run(add, 2, 3) == 5


def test_keeps_freed_heap_on_glibc_and_declines_elsewhere() -> None:
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert runtime.keep_freed_heap() is on_glibc
