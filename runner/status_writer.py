"""Keeps the run directory's status table current while a run goes on.

At 100,000 tasks a rewrite takes seconds, which on the event loop would stall every poll,
submission and download meanwhile: the periodic rewrites run in a worker thread with a
read-only journal connection of their own (a connection is not shared across threads).
The final rewrite, once the run has stopped, uses the run's own connection.
"""

from __future__ import annotations

import logging
from pathlib import Path

import anyio

from runner.engineconfig import Offload
from runner.errors import StoreError
from runner.status_table import refresh_status_table, write_status_table
from runner.store import Store

__all__ = ["StatusWriter"]

log = logging.getLogger(__name__)


class StatusWriter:
    """Rewrites status.csv/status.parquet every `every` seconds, and once at the end."""

    def __init__(self, run_dir: Path, store: Store, *, every: float, offload: Offload) -> None:
        self._run_dir = run_dir
        self._store = store
        self._every = every
        self._offload = offload

    async def run(self) -> None:
        """Rewrite the table now and then, until cancelled."""
        while True:
            await anyio.sleep(self._every)
            await self._offload(self._write_snapshot)

    def write_final(self) -> None:
        """The last rewrite, on the run's own journal connection (none if nothing changed)."""
        try:
            refresh_status_table(self._run_dir, self._store)
        except OSError as error:
            log.warning("Could not write the status table: %s", error)

    def _write_snapshot(self) -> None:
        try:
            reader = Store.open_readonly(self._store.path)
            if reader is not None:
                with reader:
                    write_status_table(self._run_dir, reader)
        except (OSError, StoreError) as error:
            log.warning("Could not write the status table: %s", error)
