"""The process `runner` runs in: uvloop wherever it is installed (its loop reads sockets with
less of the one thread every download shares), asyncio's own loop elsewhere, and a C heap
that keeps freed memory for the next received bytes where glibc allows it."""

from __future__ import annotations

import asyncio
import platform
import subprocess
import sys

import pytest

from runner import runtime

ON_GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

#: Grows the C heap by 32 MiB of small blocks, frees them from the top, and prints how many
#: bytes the heap handed back to the kernel; with argv[1] == "runtime", after `runtime.run`.
_HEAP_PROBE = """
import ctypes, sys
libc = ctypes.CDLL(None)
class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]
libc.mallinfo2.restype = Mallinfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "runtime":
    from runner import runtime
    async def nothing() -> None:
        pass
    runtime.run(nothing)
blocks = [0] * 1024  # made before the blocks, so that nothing else sits above them
for n in range(1024):
    blocks[n] = libc.malloc(32 * 1024)  # under glibc's mmap threshold: on the heap
grown = libc.mallinfo2().arena
for block in reversed(blocks):
    libc.free(block)
print(grown - libc.mallinfo2().arena)
"""


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def _bytes_handed_back(mode: str) -> int:
    probe = subprocess.run(
        [sys.executable, "-c", _HEAP_PROBE, mode], capture_output=True, text=True, check=True, timeout=60
    )
    return int(probe.stdout)


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
    assert runtime.keep_freed_heap() is ON_GLIBC


@pytest.mark.skipif(not ON_GLIBC, reason="the heap setting is glibc's")
def test_a_process_that_ran_runtime_keeps_its_freed_heap() -> None:
    """Without the setting glibc hands 32 MiB freed at the top of its heap back to the
    kernel (and faults it in again for the next bytes); after `runtime.run` it keeps them."""
    assert _bytes_handed_back("default") >= 16 * 1024 * 1024
    assert _bytes_handed_back("runtime") == 0
