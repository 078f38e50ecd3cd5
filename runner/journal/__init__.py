"""Layer 1: the SQLite journal that makes every run resumable (the only sqlite3 user).

store       tasks, transitions (written before the action they announce), assets, run facts
file        the schema and its migrations, the connection settings, the run folder's lock
"""

from __future__ import annotations

from runner.journal.file import set_aside_damaged
from runner.journal.rows import Asset, Superseded
from runner.journal.store import ENDPOINT_META, JOURNAL_NAME, Store

__all__ = ["ENDPOINT_META", "JOURNAL_NAME", "Asset", "Store", "Superseded", "set_aside_damaged"]
