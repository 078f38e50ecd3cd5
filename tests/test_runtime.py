"""`runner` runs on uvloop wherever it is installed (its loop reads sockets with less of the
one thread every download shares), and on asyncio's own loop elsewhere."""

from __future__ import annotations

import asyncio
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
