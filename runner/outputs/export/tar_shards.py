"""`--format webdataset`: tar shards in the WebDataset layout.

Each sample is consecutive members sharing a key, the task id (its dots escaped as %2E,
since a key ends at its first dot): `{key}.json` (the row), `{key}.mp4` (the video) and,
when the task's first frame is a local image, `{key}.<png|jpg|webp|bmp>`. Shards are
`<name>-000000.tar`, `<name>-000001.tar`, ..., each closed before it would pass the size
limit (about 1 GB by default; a sample larger than the limit gets a shard of its own), so
`webdataset.WebDataset("<name>-{000000..000003}.tar")` reads them. Written with the standard
library's tarfile, as `webdataset.TarWriter` does, without making webdataset a dependency.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from runner.outputs.export.rows import ExportRow, Selection

__all__ = ["DEFAULT_SHARD_BYTES", "Shard", "write_shards"]

DEFAULT_SHARD_BYTES: Final = 1_000_000_000
#: the most a tar's end adds: two zero blocks, then padding to a whole record
_END: Final = 2 * tarfile.BLOCKSIZE + tarfile.RECORDSIZE


@dataclass(frozen=True, slots=True)
class Shard:
    """One tar written: its file name, samples and bytes."""

    name: str
    samples: int
    size: int


def write_shards(
    stage: Path, run_dir: Path, selection: Selection, *, name: str, shard_bytes: int
) -> list[Shard]:
    """Write every row as a sample into shards of at most `shard_bytes` (but one sample each)."""
    shards: list[Shard] = []
    batch: list[list[_Member]] = []
    size = _END
    for row in selection.rows:
        members = _members(run_dir, row)
        sample = sum(member.tar_bytes for member in members)
        if batch and size + sample > shard_bytes:
            shards.append(_write(stage / f"{name}-{len(shards):06d}.tar", batch))
            batch, size = [], _END
        batch.append(members)
        size += sample
    if batch:
        shards.append(_write(stage / f"{name}-{len(shards):06d}.tar", batch))
    return shards


@dataclass(frozen=True, slots=True)
class _Member:
    """A member of a sample: its tar header and its bytes (inline, or a file's)."""

    info: tarfile.TarInfo
    data: bytes | None = None
    path: Path | None = None

    @property
    def tar_bytes(self) -> int:
        """What it adds to the tar: its header blocks (a long name adds a PAX header), then its
        bytes padded to whole blocks."""
        header = self.info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        return len(header) + -(-self.info.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


def _member(name: str, mtime: int, *, data: bytes | None = None, path: Path | None = None) -> _Member:
    info = tarfile.TarInfo(name)
    info.size = len(data) if data is not None else path.stat().st_size if path is not None else 0
    info.mtime, info.mode = mtime, 0o444  # whole seconds: a fraction would add a PAX header
    return _Member(info, data, path)


def _members(run_dir: Path, row: ExportRow) -> list[_Member]:
    key = row.sample_key
    mtime = int(row.video.stat().st_mtime) if row.video is not None else 0
    text = json.dumps(row.data, ensure_ascii=False).encode("utf-8")
    members = [_member(f"{key}.json", mtime, data=text)]
    if row.video is not None:
        members.append(_member(f"{key}.mp4", mtime, path=row.video))
    image = row.data.get("img")
    if row.video is not None and isinstance(image, str) and image in row.inputs:
        members.append(_member(f"{key}.{image.rsplit('.', 1)[-1]}", mtime, path=run_dir / image))
    return members


def _write(path: Path, batch: list[list[_Member]]) -> Shard:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for members in batch:
            for member in members:
                if member.data is not None:
                    tar.addfile(member.info, io.BytesIO(member.data))
                else:
                    assert member.path is not None
                    with member.path.open("rb") as handle:
                        tar.addfile(member.info, handle)
    return Shard(path.name, len(batch), path.stat().st_size)
