"""A run folder belongs to one endpoint: the service whose task ids and videos it holds.

The first run records the endpoint's identity (runner.core.catalog.Endpoint.identity) in the
journal; a run or cancel against another endpoint is refused with a sentence naming both,
since the folder's "done" videos and task ids mean nothing there (the simulator's videos
are not an account's). A change of API key is allowed (keys rotate) but warned about: the
key's fingerprint (a truncated salted hash, never the key) is kept to notice it.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Final

from runner.core import ConfigError, Endpoint, resolve_endpoint
from runner.engine import sidecar_endpoint
from runner.journal import ENDPOINT_META, MERGED_FROM_META, Store

__all__ = ["check_owner", "check_sidecars", "claim_folder", "foreign_owner"]

log = logging.getLogger("runner")

_KEY_PRINT: Final = "key_fingerprint"


def check_owner(store: Store, folder: Path, endpoint: Endpoint) -> None:
    """ConfigError unless `folder` is new or belongs to `endpoint`."""
    owner = _owner(store)
    if owner is None or owner == endpoint.identity:
        return
    msg = (
        f"The run folder {folder} holds tasks of the {_label(owner)} endpoint; this run asks for "
        f"{_label(endpoint.identity)} ({endpoint.base_url}). A folder's task ids and videos belong "
        f"to one service, so its finished tasks would pass for work {endpoint.identity} never did. "
        f"Give this endpoint its own folder (--name or --out), or run with --endpoint {owner}."
    )
    raise ConfigError(msg)


def check_sidecars(folder: Path, endpoint: Endpoint) -> None:
    """Before a lost journal is rebuilt: ConfigError if the folder's sidecars name another endpoint."""
    owner = sidecar_endpoint(folder)
    if owner is not None and owner != endpoint.identity:
        msg = (
            f"The run folder {folder} has no usable journal, and its videos were made by the "
            f"{_label(owner)} endpoint; this run asks for {_label(endpoint.identity)}. Give this "
            f"endpoint its own folder (--name or --out), or run with --endpoint {owner} to rebuild it."
        )
        raise ConfigError(msg)


def claim_folder(store: Store, folder: Path, endpoint: Endpoint, key: str, account: str = "") -> None:
    """Refuse another endpoint's folder, and a merged one; record this endpoint and the key of
    `account` (of `accounts:`; "" for a manifest without) on first use."""
    if store.get_meta(MERGED_FROM_META):
        msg = (
            f"{folder} was made by `runner merge`: it is a result, not a run. Run the shards in their "
            "own folders (--shard i/N), then merge them again."
        )
        raise ConfigError(msg)
    check_owner(store, folder, endpoint)
    if _owner(store) is None:
        store.set_meta(ENDPOINT_META, endpoint.identity)
    fingerprint = hashlib.sha256(f"runner key fingerprint:{key}".encode()).hexdigest()[:16]
    name = f"{_KEY_PRINT}.{account}" if account else _KEY_PRINT
    earlier = store.get_meta(name)
    if earlier is not None and earlier != fingerprint:
        log.warning(
            "The API key%s differs from the one earlier runs of %s used. If it belongs to another "
            "Alibaba Cloud account, the tasks still in flight cannot be seen with it and will "
            "come back expired.",
            f" of the account {account!r}" if account else "",
            folder,
        )
    store.set_meta(name, fingerprint)


def foreign_owner(store: Store, endpoint: Endpoint) -> str | None:
    """The folder's endpoint when it is another than `endpoint` (described for a person)."""
    owner = _owner(store)
    return None if owner is None or owner == endpoint.identity else _label(owner)


def _owner(store: Store) -> str | None:
    recorded = store.endpoint
    if recorded is not None:
        return recorded
    legacy = store.get_meta("endpoint")  # folders of earlier versions: the endpoint's name or URL
    if legacy is None:
        return None
    try:
        return resolve_endpoint(legacy).identity
    except ConfigError:
        return None


def _label(identity: str) -> str:
    return {"sim": "built-in simulator (sim)", "loopback": "local simulator (loopback)"}.get(
        identity, identity
    )
