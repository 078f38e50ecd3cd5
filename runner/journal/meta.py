"""The run facts a journal keeps beside its tasks (its `meta` rows), named once.

Written by `runner run` and `runner merge`, read by `runner status`, report.html and merge.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACCOUNT_META",
    "ENDPOINT_META",
    "MANIFEST_PRINT_META",
    "MANIFEST_TASKS_META",
    "MERGED_FROM_META",
    "SHARD_META",
    "SIM_SETTINGS_META",
    "STOP_REASON_META",
]

ENDPOINT_META: Final = "endpoint_identity"  #: the endpoint whose tasks the folder holds
MANIFEST_PRINT_META: Final = "manifest_print"  #: the whole manifest's fingerprint (ids and keys)
MANIFEST_TASKS_META: Final = "manifest_tasks"  #: how many tasks the whole manifest has
SHARD_META: Final = "shard"  #: `i/N` when the run took one shard of the manifest, else empty
ACCOUNT_META: Final = "account"  #: the name of the account (of `accounts:`) the run used, else empty
STOP_REASON_META: Final = (
    "stop_reason"  #: why the last run stopped early (max-cost, interrupted…), else empty
)
MERGED_FROM_META: Final = "merged_from"  #: the folders `runner merge` combined (a JSON list)
SIM_SETTINGS_META: Final = "sim_settings"  #: the embedded simulator's profile, time scale, seed (JSON)
