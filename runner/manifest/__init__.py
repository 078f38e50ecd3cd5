"""Layer 1: a manifest (YAML, or CSV rows) into validated TaskSpecs, every problem reported at once.

loader      the entry point: read, expand, validate; the run folder a manifest names
documents   a manifest's source (file, mapping, rows in memory) as one located document
readers     YAML and CSV files into rows, with each row's place (file:line)
csvrows     a CSV's rows (or a DataFrame's) as tasks (columns named like task fields, meta.*)
expand      defaults, matrix and vars crossed into one row per task
templates   `{name}` placeholders in prompts and paths
fields      one row's fields checked against the model catalogue, into a Request
rowvalues   a row being checked: raw values coerced, problems collected
parameters  resolution, size, ratio, duration and the other API parameters
mediafields the media inputs of a row: `media:`, shorthand fields, older names
combinations the inputs taken together: media sets, references, prompt, duration
limits      the manifest's `limits:` section
mediarefs   local files, URLs and data: URLs as MediaRefs (hashed, checked by content)
media       image, audio and video formats by their bytes (size, duration)
videos      a video's picture size and length, read with PyAV
identity    task ids and content keys
problems    many problems reported readably: repeats dropped, a problem of many rows counted
accounts    the accounts a job may use, named; the one a process drives
shards      a deterministic slice of a manifest, for N processes on N machines
"""

from __future__ import annotations

from runner.manifest.accounts import Account, account_limits, read_accounts_file
from runner.manifest.fields import unknown_model
from runner.manifest.limits import Limits, ModelLimits
from runner.manifest.loader import (
    Manifest,
    ManifestSource,
    MemoryRows,
    load_manifest,
    run_folder,
    take_account,
    take_shard,
)
from runner.manifest.shards import Shard, Slice, parse_shard, shard_of

__all__ = [
    "Account",
    "Limits",
    "Manifest",
    "ManifestSource",
    "MemoryRows",
    "ModelLimits",
    "Shard",
    "Slice",
    "account_limits",
    "load_manifest",
    "parse_shard",
    "read_accounts_file",
    "run_folder",
    "shard_of",
    "take_account",
    "take_shard",
    "unknown_model",
]
