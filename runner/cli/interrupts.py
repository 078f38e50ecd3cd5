"""Ctrl-C and SIGTERM during `runner run`: the first stops the run cleanly, any later one
leaves at once.

The handlers are plain `signal` handlers, installed for the whole command: Python runs them
between any two bytecodes of the main thread, so a second Ctrl-C is obeyed even while the
event loop is busy (writing a large status table, say) or after it has ended (writing the
report). The first one asks the engine, through the loop's thread-safe door, to stop
submitting; quitting at once is safe because the journal is consistent at every instant.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Final

__all__ = ["Interrupts"]

log = logging.getLogger("runner")

_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
_EXIT_INTERRUPTED: Final = 130  #: what a shell reports for a process ended by Ctrl-C


class Interrupts:
    """The command's signal handlers; `arm` names what the first signal stops."""

    def __init__(self) -> None:
        self._stop: Callable[[], Any] | None = None
        self._seen = 0
        self._saved: list[tuple[int, Any]] = []

    def arm(self, stop: Callable[[], None]) -> None:
        """From inside the running loop: the first signal will call `stop` on this loop."""
        loop = asyncio.get_running_loop()
        self._stop = lambda: loop.call_soon_threadsafe(self._stopping, stop)

    def disarm(self) -> None:
        """The loop is ending: from now on any signal leaves at once."""
        self._stop = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():  # signals reach only that thread
            self._saved = [(number, signal.signal(number, self._handle)) for number in _SIGNALS]
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for number, handler in self._saved:
            signal.signal(number, handler)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self._seen += 1
        if self._seen > 1 or self._stop is None:
            os._exit(_EXIT_INTERRUPTED)
        self._stop()

    @staticmethod
    def _stopping(stop: Callable[[], None]) -> None:
        log.warning(
            "Stopping: no new submissions; in-flight tasks stay in the journal (Ctrl-C again to quit)."
        )
        stop()
