"""Copies of a run's inputs in `inputs/`, so its tables and report point inside the folder.

Each distinct local input (an image, an audio track, a video) and each data: URL's bytes
is copied once, named by its content: `inputs/<first 16 hex digits of sha256>.<ext>`.
The status table, the report and the exports name inputs by these paths relative to the
run folder, so the folder can be moved, zipped or loaded as a dataset; each video's sidecar
keeps the original path. An input that is neither (an http(s) or oss:// URL) has no copy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from runner.core import MediaRef
from runner.outputs.durable import atomic_write
from runner.outputs.videos import INPUTS_DIR

__all__ = ["InputCopies", "InputCopy"]

_EXTENSIONS: Final = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/gif": "gif",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
}
_EXTENSION_OF_SUFFIX: Final = {".jpeg": "jpg", **{f".{ext}": ext for ext in _EXTENSIONS.values()}}


@dataclass(frozen=True, slots=True)
class InputCopy:
    """An input's copy: its path relative to the run folder and the sha256 of its bytes."""

    path: str
    sha256: str


@dataclass
class InputCopies:
    """Makes (once) and names the copies of a run folder's inputs."""

    run_dir: Path
    write: bool = True  #: False: name only the copies already there (a reader such as `runner status`)
    _done: dict[str, InputCopy | None] = field(default_factory=dict)

    def copy_of(self, media: MediaRef) -> InputCopy | None:
        """The input's copy in `inputs/`, made now if need be; None for a remote URL, an input
        of unknown type, or a local file gone since the run with no copy made before."""
        if media.path is not None:
            return self._local(media)
        url = media.url or ""
        if url.startswith("data:"):
            return self._data_url(url)
        return None

    def _local(self, media: MediaRef) -> InputCopy | None:
        source = Path(media.path or "")
        extension = _EXTENSIONS.get(media.mime or "") or _EXTENSION_OF_SUFFIX.get(source.suffix.lower())
        if media.sha256 is None or extension is None:
            return None
        if media.sha256 not in self._done:
            self._done[media.sha256] = self._place(media.sha256, extension, lambda: _read_chunks(source))
        return self._done[media.sha256]

    def _data_url(self, url: str) -> InputCopy | None:
        key = hashlib.sha256(url.encode()).hexdigest()
        if key not in self._done:
            header, _, payload = url.partition(",")
            extension = _EXTENSIONS.get(header[5:].split(";", 1)[0].lower())
            content = _decoded(payload) if header.endswith(";base64") else None
            self._done[key] = (
                None
                if content is None or extension is None
                else self._place(hashlib.sha256(content).hexdigest(), extension, lambda: iter((content,)))
            )
        return self._done[key]

    def _place(self, digest: str, extension: str, chunks: Callable[[], Iterator[bytes]]) -> InputCopy | None:
        """`inputs/<digest16>.<ext>`, written from `chunks` unless it is there already; None when
        the bytes cannot be read or are no longer the ones the run sent (edited since)."""
        relative = f"{INPUTS_DIR}/{digest[:16]}.{extension}"
        target = self.run_dir / relative
        if target.is_file():
            return InputCopy(relative, digest)
        if not self.write:
            return None
        try:
            with atomic_write(target) as part, part.open("wb") as handle:
                seen = hashlib.sha256()
                for chunk in chunks():
                    seen.update(chunk)
                    handle.write(chunk)
                if seen.hexdigest() != digest:
                    raise _Changed
        except (OSError, _Changed):
            return None
        return InputCopy(relative, digest)


class _Changed(Exception):
    """The input's bytes are not the ones the run hashed: it was edited after the run."""


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from iter(lambda: handle.read(1 << 20), b"")


def _decoded(payload: str) -> bytes | None:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
