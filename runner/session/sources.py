"""A manifest from wherever it is given: a file (YAML or CSV), a mapping written as the YAML
would be, a DataFrame of rows or a list of row mappings written as a CSV's; loaded with the
run's options over its own values, cut to this process's shard and account.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from runner.core import ConfigError
from runner.manifest import (
    Manifest,
    ManifestSource,
    MemoryRows,
    load_manifest,
    parse_shard,
    read_accounts_file,
    take_account,
    take_shard,
)
from runner.session.frames import frame_rows, is_frame
from runner.session.options import OVERRIDE_KEYS, ManifestOptions
from runner.session.wiring import BASE_URL_VARIABLE

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ManifestInput", "load_source"]

ManifestInput: TypeAlias = (
    "str | os.PathLike[str] | Mapping[str, Any] | pd.DataFrame | Sequence[Mapping[str, Any]]"
)


def load_source(manifest: ManifestInput, options: ManifestOptions) -> Manifest:
    """Load the manifest with `options` over its values, take its shard and the account this
    process drives (all of them when there are several and none is named)."""
    shard = parse_shard(options["shard"]) if options.get("shard") else None
    overrides = {key: value for key in OVERRIDE_KEYS if (value := options.get(key)) is not None}
    base = Path(options["base"]) if options.get("base") else None
    loaded = take_shard(load_manifest(_source(manifest), base=base, overrides=overrides), shard)
    accounts_file = options.get("accounts_file")
    listed = read_accounts_file(Path(accounts_file), loaded.endpoint) if accounts_file else None
    accounts = loaded.accounts if listed is None else tuple(listed)
    base_url = os.environ.get(BASE_URL_VARIABLE, "").strip()
    if loaded.endpoint is None and base_url:  # neither an option nor the manifest names one
        loaded = dataclasses.replace(loaded, endpoint=base_url)
    flags = {key: options.get(key) for key in ("concurrency", "submit_rate")}
    return take_account(loaded, options.get("account"), accounts=accounts, flags=flags)


def _source(manifest: object) -> ManifestSource:
    if isinstance(manifest, str | os.PathLike):
        return Path(manifest)
    if isinstance(manifest, Mapping):
        return manifest
    if is_frame(manifest):
        return frame_rows(manifest)  # type: ignore[arg-type]
    if isinstance(manifest, Sequence) and all(isinstance(row, Mapping) for row in manifest):
        return MemoryRows(list(manifest), [f"rows[{index}]" for index in range(len(manifest))], "rows")
    msg = (
        f"A manifest is a file path, a dict written like the YAML, a pandas DataFrame of rows or a "
        f"list of row dicts; got {type(manifest).__name__}."
    )
    raise ConfigError(msg)
