"""Layer 1: the SQLite journal that makes every run resumable (the only sqlite3 user).

store       tasks, transitions (written before the action they announce), assets, run facts
meta        the run facts kept beside the tasks, named once
file        the schema and its migrations, the connection settings, the run folder's lock
            (and whether a live run holds it)
"""

from __future__ import annotations

from runner.journal.file import folder_in_use, set_aside_damaged
from runner.journal.meta import (
    ACCOUNT_META,
    ENDPOINT_META,
    MANIFEST_PRINT_META,
    MANIFEST_TASKS_META,
    MERGED_FROM_META,
    SHARD_META,
    SIM_SETTINGS_META,
    STOP_REASON_META,
)
from runner.journal.rows import Asset, DoneVideo, Superseded
from runner.journal.store import JOURNAL_NAME, Store

__all__ = [
    "ACCOUNT_META",
    "ENDPOINT_META",
    "JOURNAL_NAME",
    "MANIFEST_PRINT_META",
    "MANIFEST_TASKS_META",
    "MERGED_FROM_META",
    "SHARD_META",
    "SIM_SETTINGS_META",
    "STOP_REASON_META",
    "Asset",
    "DoneVideo",
    "Store",
    "Superseded",
    "folder_in_use",
    "set_aside_damaged",
]
