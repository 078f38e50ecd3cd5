"""The status table: one row per task, as `status.csv` and `status.parquet` (the only pandas user).

Rewritten whole and atomically from the journal, so it is always a consistent
snapshot; its columns are runner.outputs.status_rows'. Both files are meant to be loaded as
data: paths are relative to the run folder (inputs by their copies in `inputs/`), times are
UTC, ISO 8601 text with the zone in the CSV and `timestamp[ms, UTC]` in Parquet, and every
column of the Parquet file has a type even when it is empty (text, nullable integers and
booleans, never a float NaN). The CSV is made safe for spreadsheets (formula-like cells are
quoted); the Parquet file keeps the exact values.

The journal remembers which of its revisions the table shows, so a re-run with nothing to do
(seconds at 100,000 tasks) does not rewrite it. During a run, `StatusWriter` rewrites it every
30 s beside the event loop, with a read-only journal connection of its own, when the journal
has changed; a rewrite that takes long (seconds at 100,000 tasks) spaces out the next ones.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio

from runner import __version__
from runner.core import JournalFullError, StoreError
from runner.journal import Store
from runner.outputs.durable import atomic_write
from runner.outputs.inputs import InputCopies
from runner.outputs.status_rows import STATUS_COLUMNS, TIME_COLUMNS, status_rows

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CSV_NAME",
    "PARQUET_NAME",
    "StatusWriter",
    "refresh_status_table",
    "snapshot_pause",
    "write_parquet_table",
    "write_status_table",
]

log = logging.getLogger(__name__)

CSV_NAME: Final = "status.csv"
PARQUET_NAME: Final = "status.parquet"
#: the table's layout: a new one makes a re-run rewrite tables that show an unchanged journal
TABLE_LAYOUT: Final = 2
#: the types of the columns of every table runner writes (the exports' too); the rest is text
_INTEGER_COLUMNS: Final = frozenset(
    {"attempts", "duration", "seed", "video_size", "width", "height", "frames"}
)
_FLOAT_COLUMNS: Final = frozenset({"cost", "fps", "video_duration"})
_BOOLEAN_COLUMNS: Final = frozenset({"with_audio", "has_audio"})
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_SHOWN_META: Final = "status_table_shows"  #: the journal revision (and runner version) the table shows
#: a snapshot that takes d seconds is followed by at least this many times d of pause: the
#: rewrites of a large run take at most a tenth of a core from the run
_PAUSE_PER_WRITE_SECOND: Final = 9.0


def write_status_table(run_dir: Path, store: Store) -> None:
    """Rewrite `status.csv` and `status.parquet` in `run_dir` from the journal, atomically."""
    frame = _frame(run_dir, store)
    with atomic_write(run_dir / CSV_NAME) as part:
        _spreadsheet_safe(_with_time_text(frame)).to_csv(part, index=False)
    with atomic_write(run_dir / PARQUET_NAME) as part:
        frame.to_parquet(part, index=False)


def refresh_status_table(run_dir: Path, store: Store) -> bool:
    """Rewrite the table unless it already shows the journal as it is; whether it was rewritten."""
    revision = _table_revision(store)
    files = (run_dir / CSV_NAME, run_dir / PARQUET_NAME)
    if store.get_meta(_SHOWN_META) == revision and all(path.exists() for path in files):
        return False
    write_status_table(run_dir, store)
    with contextlib.suppress(JournalFullError):  # written all the same; the next run writes it again
        store.set_meta(_SHOWN_META, revision)
    return True


def snapshot_pause(every: float, write_s: float) -> float:
    """Seconds to wait before the next snapshot, after one that took `write_s` seconds."""
    return max(every, _PAUSE_PER_WRITE_SECOND * write_s)


def _table_revision(store: Store) -> str:
    return f"{__version__}/{TABLE_LAYOUT}/{store.revision()}"


def write_parquet_table(path: Path, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    """Write `rows` as a Parquet file typed like the status table, atomically."""
    with atomic_write(path) as part:
        _typed(rows, columns).to_parquet(part, index=False)


def _frame(run_dir: Path, store: Store) -> pd.DataFrame:
    rows, meta_names = status_rows(store, InputCopies(run_dir))
    return _typed(rows, [*STATUS_COLUMNS, *meta_names])


def _typed(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """The rows as typed columns: nullable integers, floats and booleans, UTC timestamps, text."""
    import pandas as pd  # here, not at the top: `runner --help` must not pay for pandas

    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    for name in frame.columns:
        if name in _INTEGER_COLUMNS:
            frame[name] = pd.to_numeric(frame[name]).astype("Int64")
        elif name in _FLOAT_COLUMNS:
            frame[name] = pd.to_numeric(frame[name]).astype("Float64")
        elif name in _BOOLEAN_COLUMNS:
            frame[name] = frame[name].astype("boolean")
        elif name in TIME_COLUMNS:
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601").astype(
                "datetime64[ms, UTC]"
            )
        else:
            frame[name] = frame[name].astype("string")
    return frame


def _with_time_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose times are ISO 8601 text with the zone: 2026-12-05T07:29:11.812+00:00."""
    text = frame.copy()
    for name in TIME_COLUMNS:
        stamps = frame[name].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str.slice(0, 23) + "+00:00"
        text[name] = stamps.astype("string")
    return text


def _spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot be read as formulas (OWASP CSV injection): prefix a quote."""
    safe = frame.copy()
    for name in safe.columns:
        column = safe[name]
        if str(column.dtype) != "string":
            continue
        risky = column.str.startswith(_FORMULA_STARTS).fillna(False).astype(bool)
        if risky.any():
            safe.loc[risky, name] = "'" + column[risky]
    return safe


class StatusWriter:
    """Rewrites status.csv/status.parquet at the start, every `every` seconds, and at the end, so
    a run killed at any point still leaves a table at most `every` seconds old. `also` is
    another file derived from the journal (report.html), refreshed at the start and with each
    rewrite, from the same connection; it handles its own errors."""

    def __init__(
        self,
        run_dir: Path,
        store: Store,
        *,
        every: float,
        offload: Callable[[Callable[[], None]], Awaitable[None]],
        also: Callable[[Store], object] | None = None,
    ) -> None:
        self._run_dir = run_dir
        self._store = store
        self._every = every
        self._offload = offload
        self._also = also
        self._shown: str | None = None  #: the revision the last snapshot showed

    async def run(self) -> None:
        """Rewrite the table now and then, until cancelled."""
        pause = self._every
        while True:
            await anyio.sleep(pause)
            started = time.perf_counter()  # real seconds: the write's cost, whatever the run's clock
            await self._offload(self._write_snapshot)
            pause = snapshot_pause(self._every, time.perf_counter() - started)

    def refresh(self, *, also: bool = True) -> None:
        """Rewrite now, on the run's own journal connection (not if nothing changed): at the
        start and at the end of a run. `also=False` leaves the other file alone (at the end,
        when its caller writes it after recording the run's end)."""
        try:
            refresh_status_table(self._run_dir, self._store)
        except OSError as error:
            log.warning("Could not write the status table: %s", error)
        if also and self._also is not None:
            self._also(self._store)

    def _write_snapshot(self) -> None:
        try:
            reader = Store.open_readonly(self._store.path)
            if reader is None:
                return
            with reader:
                revision = _table_revision(reader)
                if revision != self._shown:  # else no task changed: the files still show the journal
                    write_status_table(self._run_dir, reader)
                    self._shown = revision
                if self._also is not None:
                    self._also(reader)  # it has its own check: the run's state may have changed
        except (OSError, StoreError) as error:
            log.warning("Could not write the status table: %s", error)
