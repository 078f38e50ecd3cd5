"""The status table: one row per task, as `status.csv` and `status.parquet` (the only pandas user).

Rewritten whole and atomically from the journal, so it is always a consistent
snapshot. The CSV is made safe for spreadsheets (formula-like cells are quoted);
the Parquet file keeps the exact values and types. The journal remembers which of its
revisions the table shows, so a re-run with nothing to do (seconds at 100,000 tasks) does
not rewrite it. During a run, `StatusWriter` rewrites it every 30 s beside the event loop
(a rewrite at 100,000 tasks takes seconds), with a read-only journal connection of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from runner import __version__
from runner.core import JournalFullError
from runner.journal import Store
from runner.outputs.durable import atomic_write
from runner.core import MediaRef, TaskRecord, TaskSpec
import logging
import anyio
from runner.core import StoreError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CSV_NAME", "PARQUET_NAME", "STATUS_COLUMNS", "StatusWriter", "media_label", "refresh_status_table", "status_rows", "write_status_table"]

CSV_NAME: Final = "status.csv"
PARQUET_NAME: Final = "status.parquet"
STATUS_COLUMNS: Final = (
    "id",
    "key",
    "state",
    "attempts",
    "error_code",
    "error_message",
    "task_id",
    "request_id",
    "model",
    "resolution",
    "size",
    "ratio",
    "duration",
    "seed",
    "with_audio",
    "audio_setting",
    "prompt",
    "actual_prompt",
    "img",
    "img_sha256",
    "last_frame",
    "first_clip",
    "video",
    "references",
    "audio",
    "audio_sha256",
    "submit_time",
    "scheduled_time",
    "end_time",
    "cost",
    "video_path",
    "video_sha256",
    "video_size",
    "double_charge_task_ids",
    "superseded_by",
)
_INTEGER_COLUMNS: Final = ("attempts", "duration", "seed", "video_size")
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_SHOWN_META: Final = "status_table_shows"  #: the journal revision (and runner version) the table shows


def write_status_table(run_dir: Path, store: Store) -> None:
    """Rewrite `status.csv` and `status.parquet` in `run_dir` from the journal, atomically."""
    frame = _frame(store)
    with atomic_write(run_dir / CSV_NAME) as part:
        _spreadsheet_safe(frame).to_csv(part, index=False)
    with atomic_write(run_dir / PARQUET_NAME) as part:
        frame.to_parquet(part, index=False)


def refresh_status_table(run_dir: Path, store: Store) -> bool:
    """Rewrite the table unless it already shows the journal as it is; whether it was rewritten."""
    revision = f"{__version__}/{store.revision()}"  # a new version may add or change columns
    files = (run_dir / CSV_NAME, run_dir / PARQUET_NAME)
    if store.get_meta(_SHOWN_META) == revision and all(path.exists() for path in files):
        return False
    write_status_table(run_dir, store)
    with contextlib.suppress(JournalFullError):  # written all the same; the next run writes it again
        store.set_meta(_SHOWN_META, revision)
    return True


def status_rows(store: Store) -> tuple[list[dict[str, Any]], list[str]]:
    """Every task as a dict of status columns (manifest order) and the `meta.` column names."""
    specs = {spec.id: spec for spec in store.specs()}
    rows: list[dict[str, Any]] = []
    meta_names: dict[str, None] = {}
    for record in store.records():
        spec = specs[record.id]
        row = _row(spec, record)
        for name, value in spec.meta.items():
            column = f"meta.{name}"
            meta_names.setdefault(column)
            row[column] = value
        rows.append(row)
    return rows, list(meta_names)


def media_label(media: MediaRef) -> str:
    """How an input appears in tables: its path, its URL, or for a data: URL its mime and hash."""
    if media.path is not None:
        return media.path
    url = media.url or ""
    if url.startswith("data:"):
        mime = url[5:].split(";", 1)[0].split(",", 1)[0] or "unknown"
        return f"data:{mime};sha256={hashlib.sha256(url.encode()).hexdigest()}"
    return url


def _labels(spec: TaskSpec, *roles: str) -> str | None:
    """The inputs of `roles`, as labels joined by " | " (None when there are none)."""
    labels = [media_label(item.ref) for item in spec.media if item.role in roles]
    return " | ".join(labels) or None


def _first(spec: TaskSpec, role: str) -> MediaRef:
    return spec.inputs(role)[0]


def _row(spec: TaskSpec, record: TaskRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "key": record.key,
        "state": record.state.value,
        "attempts": record.attempts,
        "error_code": record.error_code,
        "error_message": record.error_message,
        "task_id": record.task_id,
        "request_id": record.request_id,
        "model": spec.model,
        "resolution": spec.resolution or None,
        "size": spec.parameters.get("size"),
        "ratio": spec.parameters.get("ratio"),
        "duration": spec.parameters.get("duration"),
        "seed": spec.parameters.get("seed"),
        "with_audio": spec.parameters.get("audio"),  # the `audio` switch: a silent video when false
        "audio_setting": spec.parameters.get("audio_setting"),
        "prompt": spec.prompt,
        "actual_prompt": record.actual_prompt,
        "img": _labels(spec, "first_frame"),
        "img_sha256": _first(spec, "first_frame").sha256 if spec.inputs("first_frame") else None,
        "last_frame": _labels(spec, "last_frame"),
        "first_clip": _labels(spec, "first_clip"),
        "video": _labels(spec, "video"),
        "references": _labels(spec, "reference_image", "reference_video", "reference_audio"),
        "audio": _labels(spec, "driving_audio"),
        "audio_sha256": _first(spec, "driving_audio").sha256 if spec.inputs("driving_audio") else None,
        "submit_time": record.submit_time,
        "scheduled_time": record.scheduled_time,
        "end_time": record.end_time,
        "cost": record.cost,
        "video_path": record.video_path,
        "video_sha256": record.video_sha256,
        "video_size": record.video_size,
        # DashScope tasks that may have been this one's own, left unclaimed: possible double charges
        "double_charge_task_ids": " ".join(record.double_charge_ids or []) or None,
        "superseded_by": record.superseded_by,  # an earlier version the manifest's edit set aside
    }


def _frame(store: Store) -> pd.DataFrame:
    import pandas as pd  # here, not at the top: `runner --help` must not pay for pandas

    rows, meta_names = status_rows(store)
    columns = [*STATUS_COLUMNS, *meta_names]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for name in _INTEGER_COLUMNS:
        frame[name] = pd.to_numeric(frame[name]).astype("Int64")
    frame["cost"] = pd.to_numeric(frame["cost"]).astype("Float64")
    frame["with_audio"] = frame["with_audio"].astype("boolean")
    for name in columns:
        if name not in _INTEGER_COLUMNS and name not in ("cost", "with_audio"):
            frame[name] = frame[name].astype("string")
    return frame


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


log = logging.getLogger(__name__)


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

    async def run(self) -> None:
        """Rewrite the table now and then, until cancelled."""
        while True:
            await anyio.sleep(self._every)
            await self._offload(self._write_snapshot)

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
            if reader is not None:
                with reader:
                    write_status_table(self._run_dir, reader)
                    if self._also is not None:
                        self._also(reader)
        except (OSError, StoreError) as error:
            log.warning("Could not write the status table: %s", error)
