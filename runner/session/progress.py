"""The live view of a run: a rich display on a terminal (or in a notebook), plain log lines
otherwise (cron, CI), or a callback of the caller's (`runner.run(..., progress=callback)`).

It only reads `Snapshot`s from a callable; the engine never imports rich.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import anyio
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.text import Text

from runner.core import TERMINAL_STATES, TaskState
from runner.engine import Snapshot

__all__ = ["ProgressCallback", "call_back", "describe", "show_progress"]

ProgressCallback = Callable[[Snapshot], object]  #: called with the run's progress, now and then

log = logging.getLogger("runner")

_ORDER: Final = (
    TaskState.DONE,
    TaskState.DOWNLOADING,
    TaskState.SUCCEEDED,
    TaskState.RUNNING,
    TaskState.PENDING,
    TaskState.SUBMITTING,
    TaskState.AMBIGUOUS,
    TaskState.PLANNED,
    TaskState.FAILED,
    TaskState.EXPIRED,
    TaskState.CANCELLED,
)
_STYLE: Final = {
    TaskState.DONE: "green",
    TaskState.FAILED: "red",
    TaskState.EXPIRED: "red",
    TaskState.RUNNING: "cyan",
    TaskState.PENDING: "blue",
    TaskState.AMBIGUOUS: "yellow",
}
_LOG_EVERY_S: Final = 10.0
_CALL_EVERY_S: Final = 1.0


async def show_progress(snapshot: Callable[[], Snapshot], console: Console, live: bool) -> None:
    """Show progress until cancelled: a live panel when `live`, else a log line every ~10 s."""
    if live:
        with Live(_render(snapshot()), console=console, refresh_per_second=4, transient=True) as view:
            while True:
                await anyio.sleep(0.25)
                view.update(_render(snapshot()))
    last_done = -1
    while True:
        await anyio.sleep(_LOG_EVERY_S)
        current = snapshot()
        done = current.counts.get(TaskState.DONE, 0)
        if done != last_done or current.stopping:
            log.info("%s", describe(current))
            last_done = done


async def call_back(snapshot: Callable[[], Snapshot], callback: ProgressCallback) -> None:
    """Call `callback` with the progress about once a second until cancelled, and once more with
    how the run ended (from the run's own thread: keep it quick)."""
    try:
        while True:
            callback(snapshot())
            await anyio.sleep(_CALL_EVERY_S)
    finally:
        callback(snapshot())


def describe(snap: Snapshot) -> str:
    """One line for logs: counts, cost, slots, rate and ETA."""
    counts = ", ".join(f"{state.value} {snap.counts[state]}" for state in _ORDER if snap.counts.get(state))
    parts = [
        f"{_settled(snap)}/{snap.total} settled ({counts})",
        f"cost {snap.cost:.2f} {snap.currency}",
        f"slots {snap.slots_used}/{snap.slots_capacity}",
        f"submit {snap.submit_rate:.1f}/s",
        f"elapsed {_clock(snap.elapsed_s)}",
    ]
    if snap.eta_s is not None:
        parts.append(f"ETA {_clock(snap.eta_s)}")
    if snap.stopping:
        parts.append(f"stopping: {snap.stopping}")
    return " · ".join(parts)


def _render(snap: Snapshot) -> Group:
    bar = ProgressBar(total=max(1, snap.total), completed=_settled(snap), width=40)
    counts = Text()
    for state in _ORDER:
        count = snap.counts.get(state)
        if count:
            counts.append(f"{state.value} {count}  ", style=_STYLE.get(state, ""))
    eta = f" · ETA {_clock(snap.eta_s)}" if snap.eta_s is not None else ""
    stats = Text(
        f"videos {snap.counts.get(TaskState.DONE, 0)}/{snap.total} · cost {snap.cost:.2f} {snap.currency}"
        f" · slots {snap.slots_used}/{snap.slots_capacity} · submit {snap.submit_rate:.1f}/s"
        f" · polls {snap.polls} · {_clock(snap.elapsed_s)}{eta}",
        style="dim",
    )
    lines: list[Text | ProgressBar] = [bar, counts, stats]
    if snap.stopping:
        lines.append(Text(f"stopping ({snap.stopping}): in-flight tasks stay in the journal", style="yellow"))
    return Group(*lines)


def _settled(snap: Snapshot) -> int:
    return sum(snap.counts.get(state, 0) for state in TERMINAL_STATES)


def _clock(seconds: float) -> str:
    whole = max(0, round(seconds))
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
