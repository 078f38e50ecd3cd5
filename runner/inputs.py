"""Turning a spec's media into what goes on the wire, one choice per local file.

URLs (http, https, oss, data) are sent unchanged. A local file is checked first: its
bytes must still hash to what the plan recorded, since a file edited since planning
would silently produce a different video under the old task key. Then:

- a small image travels inline as a base64 `data:` URL (no extra request);
- a larger image, and any audio (the API takes audio only by URL), is uploaded to
  DashScope's temporary storage once per 48 h and sent as `oss://…` (runner.uploads).
"""

from __future__ import annotations

import base64
from typing import Literal

from runner.client import ResolvedInputs
from runner.tasks import MediaRef, TaskSpec
from runner.uploads import AssetUploader, read_verified

__all__ = ["Carrier", "carrier", "resolve_inputs"]

Carrier = Literal["url", "data", "upload"]


def carrier(media: MediaRef, data_url_max: int) -> Carrier:
    """How `media` travels: its own URL, an inline data: URL, or an upload to temporary storage."""
    if media.path is None:
        return "url"
    if media.kind == "image" and (media.size or 0) <= data_url_max:
        return "data"
    return "upload"


async def resolve_inputs(spec: TaskSpec, uploader: AssetUploader) -> ResolvedInputs:
    """The wire URLs of `spec`'s image and audio.

    InputFileError if a local file changed or vanished; the uploader's errors otherwise.
    """
    image = await _wire_url(spec, spec.image, uploader)
    audio = None if spec.audio is None else await _wire_url(spec, spec.audio, uploader)
    return ResolvedInputs(img_url=image, audio_url=audio)


async def _wire_url(spec: TaskSpec, media: MediaRef, uploader: AssetUploader) -> str:
    how = carrier(media, uploader.settings.data_url_max)
    if how == "url":
        return media.url or ""
    if how == "data":
        encoded = base64.b64encode(read_verified(media)).decode("ascii")
        return f"data:{media.mime or 'application/octet-stream'};base64,{encoded}"
    return await uploader.oss_url(media, spec.model)
