"""The Python API: `runner.plan`, `runner.run` and `runner.run_async` (README, "Python API").

`run` blocks until the run ends and returns a RunResult. It runs the run's event loop in a
thread of its own, so it works the same from plain code and from inside a running event loop
(a Jupyter cell, where `asyncio.run` would refuse), and it never installs signal handlers.
Ctrl-C (a notebook's interrupt) while it waits asks the run to stop cleanly, as `runner run`
does (no new submissions; tasks in flight stay in the journal; status table, report and
summary written), then raises KeyboardInterrupt: run it again to resume. A second Ctrl-C
raises at once. `run_async` runs in the caller's own loop; cancelling it cancels the run,
which is safe: the journal is consistent at every instant.

Errors are runner.core's (ManifestError, ConfigError, StoreError for a folder in use…), the
ones `runner` turns into messages; an account the service refuses is AccountRefusedError,
carrying what the run did until then. Failed tasks and an early stop are outcomes in the
result (`exit_code` 3 and 4), not exceptions.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Unpack

import anyio
from rich.console import Console

from runner.engine import Snapshot
from runner.session.execution import Watch, execute
from runner.session.options import ManifestOptions, RunOptions
from runner.session.plans import RunPlan, plan_run
from runner.session.preparation import prepare_run
from runner.session.progress import ProgressCallback, call_back, show_progress
from runner.session.result import AccountRefusedError, RunResult
from runner.session.sources import ManifestInput

__all__ = ["Progress", "plan", "run", "run_async"]

#: None: a live bar where a terminal or a notebook shows one, else nothing; True/False: the bar
#: or nothing; a callable: called with a Snapshot about once a second and once at the end
Progress = bool | ProgressCallback | None


def plan(manifest: ManifestInput, **options: Unpack[ManifestOptions]) -> RunPlan:
    """What `run(manifest, **options)` would do now: its tasks, cost and time. Sends nothing."""
    return plan_run(manifest, options)


def run(manifest: ManifestInput, *, progress: Progress = None, **options: Unpack[RunOptions]) -> RunResult:
    """Run the manifest's tasks (resuming what its folder's journal left unfinished) and
    return what the run did; blocks until it ends, in plain code or inside a running loop."""
    prepared = prepare_run(manifest, options)
    switch = _ThreadSwitch()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runner-run")
    try:
        future = pool.submit(anyio.run, functools.partial(execute, prepared, _watch(progress), switch))
        try:
            result = future.result()
        except KeyboardInterrupt:
            switch.request_stop()
            future.result()  # the run winds down and writes its files; a 2nd Ctrl-C leaves now
            raise
    finally:
        pool.shutdown(wait=False)
    return _checked(result)


async def run_async(
    manifest: ManifestInput, *, progress: Progress = None, **options: Unpack[RunOptions]
) -> RunResult:
    """`run`, awaited in the caller's event loop (`await runner.run_async(...)` in a notebook)."""
    prepared = prepare_run(manifest, options)
    return _checked(await execute(prepared, _watch(progress)))


def _checked(result: RunResult) -> RunResult:
    if result.account_error is not None:
        raise AccountRefusedError(result)
    return result


def _watch(progress: Progress) -> Watch | None:
    if callable(progress):
        return functools.partial(call_back, callback=progress)
    console = Console(stderr=True, highlight=False)
    if progress is None:
        progress = console.is_terminal or console.is_jupyter
    if not progress:
        return None

    async def bar(snapshot: Callable[[], Snapshot]) -> None:
        await show_progress(snapshot, console, True)

    return bar


class _ThreadSwitch:
    """The run's stop, reached from the thread that waits for it. A stop asked before the run's
    loop is going is kept, and obeyed as soon as it is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stop: Callable[[], object] | None = None
        self._requested = False

    def arm(self, stop: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            self._stop = functools.partial(loop.call_soon_threadsafe, stop)
            if self._requested:
                self._stop()

    def disarm(self) -> None:
        with self._lock:
            self._stop = None

    def request_stop(self) -> None:
        with self._lock:
            self._requested = True
            if self._stop is not None:
                self._stop()
