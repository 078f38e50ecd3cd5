"""Each task's inputs as report.html shows them: every one of them, under its role, viewable offline.

A card shows all of a task's media (first frame, last frame, first clip, input video,
reference images and videos, audio), each under its role: images as thumbnails, videos as
small players, audio as a link. Local files and data: URL images are copied into `inputs/`
once per distinct content, named by their hash, so the folder can be moved or zipped and the
page still shows them; http(s) inputs are shown from their URL; oss:// ones by name only (a
browser cannot open them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Final
from urllib.parse import urlsplit

from runner.core import MediaItem, MediaRef
from runner.outputs.durable import PART_SUFFIX, atomic_write
from runner.outputs.videos import INPUTS_DIR

__all__ = ["InputCopies"]

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
_EXTENSION_OF_SUFFIX: Final = {
    ".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp", ".bmp": "bmp",
    ".wav": "wav", ".mp3": "mp3", ".mp4": "mp4", ".mov": "mov",
}  # fmt: skip


@dataclass
class InputCopies:
    """Copies each distinct local input into `inputs/` once and describes inputs for the page."""

    run_dir: Path
    _done: dict[str, str | None] = field(default_factory=dict)

    def entries(self, media: tuple[MediaItem, ...]) -> list[dict[str, Any]]:
        """One entry per input, in the order sent: role ("reference image 2" when there are
        several), kind, `src` (a relative path or an http(s) URL; None: not viewable), name."""
        roles = [item.role for item in media]
        seen: dict[str, int] = {}
        entries = []
        for item in media:
            seen[item.role] = seen.get(item.role, 0) + 1
            role = item.role.replace("_", " ")
            if roles.count(item.role) > 1:
                role += f" {seen[item.role]}"
            ref = item.ref
            entries.append({"role": role, "kind": ref.kind, "src": self.source(ref), "name": _name(ref)})
        return entries

    def source(self, media: MediaRef) -> str | None:
        """A relative path into `inputs/`, an http(s) URL, or None when it cannot be shown."""
        if media.path is not None:
            return self._local(media)
        url = media.url or ""
        if url.startswith(("https://", "http://")):
            return url
        if url.startswith("data:"):
            return self._data_url(url)
        return None  # oss:// and friends are not viewable in a browser

    def _local(self, media: MediaRef) -> str | None:
        source = Path(media.path or "")
        digest = media.sha256 or hashlib.sha256(str(source).encode()).hexdigest()
        if digest not in self._done:
            extension = _EXTENSIONS.get(media.mime or "") or _EXTENSION_OF_SUFFIX.get(source.suffix.lower())
            self._done[digest] = self._copy(source, digest, extension) if extension else None
        return self._done[digest]

    def _copy(self, source: Path, digest: str, extension: str) -> str | None:
        relative = f"{INPUTS_DIR}/{digest[:16]}.{extension}"
        target = self.run_dir / relative
        if not target.is_file():
            if not source.is_file():
                return None  # the input moved since the run; the card says so
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + PART_SUFFIX)
            shutil.copyfile(source, part)
            part.replace(target)
        return relative

    def _data_url(self, url: str) -> str | None:
        header, _, payload = url.partition(",")
        mime = header[5:].split(";", 1)[0].lower()
        extension = _EXTENSIONS.get(mime)
        if extension is None or not header.endswith(";base64"):
            return None
        key = hashlib.sha256(url.encode()).hexdigest()
        if key not in self._done:
            self._done[key] = self._write_decoded(payload, extension)
        return self._done[key]

    def _write_decoded(self, payload: str, extension: str) -> str | None:
        try:
            content = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return None
        digest = hashlib.sha256(content).hexdigest()
        relative = f"{INPUTS_DIR}/{digest[:16]}.{extension}"
        target = self.run_dir / relative
        if not target.is_file():
            with atomic_write(target) as part:
                part.write_bytes(content)
        return relative


def _name(ref: MediaRef) -> str:
    """The file name a person knows the input by ("inline" for a data: URL)."""
    url = ref.url or ""
    if url.startswith("data:"):
        return "inline"
    return PurePosixPath(ref.path or urlsplit(url).path).name
