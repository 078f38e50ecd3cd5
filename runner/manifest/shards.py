"""Shards: a deterministic slice of a manifest, so N processes on N machines share one job.

A task belongs to shard `sha256(id) mod N`. Ids survive reordering, added rows and edits
(runner.manifest.identity), so adding rows never moves a task to another shard, and an
edited task is redone in the folder that holds its earlier version. Shards are numbered
from 0, like a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` and `--array=0-3` in Slurm.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from runner.core import ConfigError, TaskSpec

__all__ = ["INDEX_VARIABLES", "Shard", "Slice", "manifest_print", "parse_shard", "shard_of", "take_slice"]

#: where `--shard auto/N` reads its index, in this order
INDEX_VARIABLES: Final = ("JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard `index` of `count` (0 <= index < count)."""

    index: int
    count: int

    @property
    def folder_name(self) -> str:
        """The shard's run folder inside the manifest's: `shard-0-of-4`."""
        return f"shard-{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True, slots=True)
class Slice:
    """What a run needs to know about the whole manifest it takes a shard of."""

    shard: Shard | None
    positions: tuple[int, ...]  #: each task's place in the whole manifest (merged folders keep its order)
    manifest_tasks: int  #: tasks in the whole manifest
    manifest_print: str  #: `manifest_print` of the whole manifest


def parse_shard(text: str, environ: Mapping[str, str] | None = None) -> Shard:
    """`i/N`, or `auto/N` with i from INDEX_VARIABLES; ConfigError naming the value otherwise."""
    env = os.environ if environ is None else environ
    index_text, slash, count_text = text.strip().partition("/")
    count = _whole(count_text) if slash else None
    if count is None or count < 1:
        raise ConfigError(f"--shard {text!r} is not a shard: write i/N (e.g. 0/4), or auto/N.")
    if index_text == "auto":
        index_text = _index_from(env, text)
    index = _whole(index_text)
    if index is None or index >= count:
        msg = (
            f"--shard {text!r}: the index must be a whole number from 0 to {count - 1} (shards count from 0)."
        )
        if text.startswith("auto"):
            msg = (
                f"--shard {text}: the index {index_text!r} from the environment is not from 0 to {count - 1}."
            )
        raise ConfigError(msg)
    return Shard(index, count)


def shard_of(task_id: str, count: int) -> int:
    """The shard a task id belongs to among `count`: stable across machines and versions."""
    digest = hashlib.sha256(task_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def take_slice(specs: Sequence[TaskSpec], shard: Shard | None) -> tuple[list[TaskSpec], Slice]:
    """The tasks of `shard` (all of them for None), and what they were cut from."""
    fingerprint = manifest_print(specs)
    if shard is None:
        return list(specs), Slice(None, tuple(range(len(specs))), len(specs), fingerprint)
    kept = [
        (place, spec) for place, spec in enumerate(specs) if shard_of(spec.id, shard.count) == shard.index
    ]
    positions = tuple(place for place, _ in kept)
    return [spec for _, spec in kept], Slice(shard, positions, len(specs), fingerprint)


def manifest_print(specs: Sequence[TaskSpec]) -> str:
    """A fingerprint of a manifest's tasks (ids and content keys): equal for the same job."""
    digest = hashlib.sha256()
    for task_id, key in sorted((spec.id, spec.key) for spec in specs):
        digest.update(f"{task_id}\0{key}\n".encode())
    return digest.hexdigest()[:16]


def _index_from(environ: Mapping[str, str], text: str) -> str:
    for name in INDEX_VARIABLES:
        value = environ.get(name)
        if value is not None and value.strip():
            return value.strip()
    names = " nor ".join(INDEX_VARIABLES)
    raise ConfigError(f"--shard {text}: neither {names} is set; give the index yourself (--shard 0/N).")


def _whole(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None
