"""Content checks of the inputs, and what they teach about them: image sizes, video lengths.

The simulator never fetches a remote URL: an http(s) image, audio or video is judged by
its name (media.py), and its size and length stay unknown. Bytes it does hold, a data:
URL or an `oss://` upload, are really inspected: images by their header, audio and video
by a sniff, and an uploaded video is opened with PyAV for its length and frame size.
Only the first 256 KiB of an upload are kept (uploads.py), so a video whose index lies
beyond them has an unknown length, like a remote one.

A problem found here is a media problem: refused at submission or failing the task later,
according to `media_validation_at`. The facts are gathered either way, because the
output (its aspect, its length) and the bill follow from them.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import av

from runner.simulator.config import SimConfig
from runner.simulator.errors import Problem
from runner.simulator.families import AUDIO_TYPES, VIDEO_TYPES
from runner.simulator.inputs import Item
from runner.simulator.media import (
    check_audio_url,
    check_image_bytes,
    check_remote_url,
    check_video_url,
    decode_data_url,
    sniff_audio,
    sniff_image,
    sniff_video,
)
from runner.simulator.models import ModelSpec

__all__ = ["Facts", "Probe", "UploadReader", "probe_inputs", "read_video"]

#: the stored bytes (leading bytes, total size) behind an oss:// URL, or why it is unusable
UploadReader = Callable[[str], "Problem | tuple[bytes, int]"]

_NO_RESOLVE = Problem(
    "InvalidParameter.DataInspection",
    "The media format is not supported or incorrect for the data inspection.",
)


@dataclass(frozen=True)
class Facts:
    """What the simulator knows about one input (zero or None: unknown)."""

    type: str
    width: int = 0
    height: int = 0
    seconds: float | None = None  #: videos: the length read from the bytes


@dataclass(frozen=True)
class Probe:
    """Every input's facts, and the first problem found (None: all usable)."""

    facts: tuple[Facts, ...]
    problem: Problem | None


def read_video(data: bytes) -> tuple[float, int, int] | None:
    """(seconds, width, height) of an MP4/MOV held in `data`, or None if PyAV cannot tell."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            duration = container.duration
            if duration is None or duration <= 0:
                return None
            return duration / av.time_base, stream.codec_context.width, stream.codec_context.height
    except (av.FFmpegError, ValueError, OSError, IndexError):
        return None


def probe_inputs(
    spec: ModelSpec, items: list[Item], config: SimConfig, oss_enabled: bool, read: UploadReader
) -> Probe:
    """Check each input in order; keep the first problem and every input's facts."""
    checker = _Checker(spec, config, oss_enabled, read)
    found: list[Facts] = []
    problem: Problem | None = None
    for item in items:
        facts, issue = checker.check(item)
        found.append(facts)
        problem = problem or issue
    return Probe(tuple(found), problem or _total_problem(spec, found))


def _total_problem(spec: ModelSpec, facts: list[Facts]) -> Problem | None:
    """wan3.0: the reference videos whose length is known may not exceed the total."""
    limit = spec.rules.video_total_s
    total = sum(f.seconds or 0.0 for f in facts if f.type == "reference_video")
    if limit and total > limit:
        return Problem(
            "InvalidParameter",
            f"The reference videos last {total:.1f} s in all; {spec.name} takes at most {limit:g} s.",
        )
    return None


class _Checker:
    """The checks of one request's inputs, by kind: image, audio or video."""

    def __init__(self, spec: ModelSpec, config: SimConfig, oss_enabled: bool, read: UploadReader) -> None:
        self.spec, self.config = spec, config
        self.oss_enabled, self.read = oss_enabled, read

    def check(self, item: Item) -> tuple[Facts, Problem | None]:
        if item.type in VIDEO_TYPES:
            return self._video(item)
        if item.type in AUDIO_TYPES or item.type == "reference_voice":
            return Facts(item.type), self._audio(item.url)
        return self._image(item)

    def _upload(self, url: str) -> Problem | tuple[bytes, int]:
        """oss:// needs the resolve header and a live upload made for this model."""
        return self.read(url) if self.oss_enabled else _NO_RESOLVE

    def _audio(self, url: str) -> Problem | None:
        if not url.startswith("oss://"):
            return check_audio_url(url)
        stored = self._upload(url)
        return stored if isinstance(stored, Problem) else sniff_audio(stored[0])

    def _video(self, item: Item) -> tuple[Facts, Problem | None]:
        if not item.url.startswith("oss://"):
            return Facts(item.type), check_video_url(item.url)
        stored = self._upload(item.url)
        if isinstance(stored, Problem):
            return Facts(item.type), stored
        problem = sniff_video(stored[0])
        read = None if problem else read_video(stored[0])
        if read is None:
            return Facts(item.type), problem
        seconds, width, height = read
        return Facts(item.type, width, height, seconds), self._length(item, seconds)

    def _length(self, item: Item, seconds: float) -> Problem | None:
        kind = item.type
        bounds = self.spec.rules.clip_seconds.get(kind)
        if bounds is None or bounds[0] <= seconds <= bounds[1]:
            return None
        return Problem(
            "InvalidParameter",
            f"The {kind} ({item.field}) is {seconds:.1f} s long; "
            f"{self.spec.name} takes {bounds[0]:g} to {bounds[1]:g} s.",
        )

    def _image(self, item: Item) -> tuple[Facts, Problem | None]:
        """An image: http(s) by name, oss:// and data: by their bytes."""
        url, config = item.url, self.config
        if url.startswith(("http://", "https://")):
            return Facts(item.type), check_remote_url(url)
        if url.startswith("oss://"):
            stored = self._upload(url)
            if isinstance(stored, Problem):
                return Facts(item.type), stored
            data, size = stored
        elif url.startswith("data:"):
            if len(url) > config.data_url_max_bytes:
                return Facts(item.type), Problem("BadRequest.TooLarge", "Payload Too Large.", status=413)
            decoded = decode_data_url(url)
            if isinstance(decoded, Problem):
                return Facts(item.type), decoded
            data, size = decoded[1], len(decoded[1])
        else:
            return Facts(item.type), Problem("InvalidURL", "Invalid URL provided in your request.")
        return self._image_bytes(item, data, size)

    def _image_bytes(self, item: Item, data: bytes, size: int) -> tuple[Facts, Problem | None]:
        """The configured image checks, then the family's own smallest side and aspect."""
        rules, config = self.spec.rules, self.config
        min_px = max(config.image_min_px, rules.image_min_px)
        limit = self.spec.image_max_mb * 1024 * 1024
        problem = check_image_bytes(data, min_px, config.image_max_px, limit, size=size)
        info = sniff_image(data)
        if info is None:
            return Facts(item.type), problem
        return Facts(item.type, info.width, info.height), problem or self._aspect(
            item, info.width, info.height
        )

    def _aspect(self, item: Item, width: int, height: int) -> Problem | None:
        bound = self.spec.rules.image_max_aspect
        if not bound or max(width, height) <= min(width, height) * bound:
            return None
        return Problem(
            "InvalidParameter",
            f"The image ({item.field}) is {width}x{height} pixels; its aspect ratio must lie "
            f"between 1:{bound:g} and {bound:g}:1.",
        )
