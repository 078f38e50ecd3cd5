"""Turning a spec's media into what goes on the wire.

URLs (http, https, oss, data) are sent unchanged. A local image is sent as a base64
`data:` URL built from the file, after checking that its bytes still hash to what the
plan recorded: a file edited since planning would silently produce a different video
under the old task key. (Uploads to temporary oss:// storage come with a later change.)
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path

from runner.client import ResolvedInputs
from runner.errors import InputFileError
from runner.tasks import MediaRef, TaskSpec

__all__ = ["resolve_inputs"]


def resolve_inputs(spec: TaskSpec) -> ResolvedInputs:
    """The wire URLs of `spec`'s image and audio; InputFileError if a local file changed or vanished."""
    image = _wire_url(spec, spec.image)
    audio = None if spec.audio is None else _wire_url(spec, spec.audio)
    return ResolvedInputs(img_url=image, audio_url=audio)


def _wire_url(spec: TaskSpec, media: MediaRef) -> str:
    if media.path is None:
        return media.url or ""
    if media.kind == "audio":
        msg = (
            f"Task {spec.id!r}: the audio file {media.path} is local, and the API accepts audio only "
            "by URL. Put it at an http(s) URL and use that as audio_url."
        )
        raise InputFileError(msg)
    path = Path(media.path)
    try:
        stat = path.stat()
        return _data_url(str(path), stat.st_size, stat.st_mtime_ns, media.sha256 or "", media.mime or "")
    except OSError as exc:
        msg = f"Task {spec.id!r}: the image {media.path} unreadable ({exc.strerror}). Restore it, run again."
        raise InputFileError(msg) from None
    except _Changed as changed:
        msg = (
            f"Task {spec.id!r}: the image {media.path} changed since the manifest was planned "
            f"(sha256 {changed.found[:12]}…, expected {(media.sha256 or '')[:12]}…). Restore it, or run "
            "the manifest again so the task is planned afresh with the new image."
        )
        raise InputFileError(msg) from None


class _Changed(Exception):
    def __init__(self, found: str) -> None:
        self.found = found


@lru_cache(maxsize=4)
def _data_url(path: str, size: int, mtime_ns: int, sha256: str, mime: str) -> str:
    """The data: URL of a verified file; cached by (path, size, mtime) so a shared image is read once."""
    data = Path(path).read_bytes()
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise _Changed(found)
    return f"data:{mime or 'application/octet-stream'};base64,{base64.b64encode(data).decode('ascii')}"
