"""Local video inputs (a first clip, a video to edit, a reference video): what they are, how long.

MP4 and QuickTime are recognised by their `ftyp` box; their length and picture size come
from PyAV (FFmpeg's demuxers), since a video's duration is not in a fixed-size header.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

import av

__all__ = ["VIDEO_MIMES", "VideoFacts", "probe_video", "sniff_video"]

VIDEO_MIMES: Final = ("video/mp4", "video/quicktime")
_QUICKTIME_BRAND: Final = b"qt  "


@dataclass(frozen=True, slots=True)
class VideoFacts:
    """What probing a video found; `error` when its container or streams cannot be read."""

    seconds: float | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None


def sniff_video(data: bytes) -> str | None:
    """video/mp4 or video/quicktime from the `ftyp` box at offset 4, or None."""
    if data[4:8] != b"ftyp":
        return None
    return "video/quicktime" if data[8:12] == _QUICKTIME_BRAND else "video/mp4"


def probe_video(data: bytes) -> VideoFacts:
    """The length and picture size of an MP4/MOV, read with PyAV."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            streams = container.streams.video
            if not streams:
                return VideoFacts(error="it has no video stream")
            stream = streams[0]
            seconds = _seconds(container, stream)
            return VideoFacts(seconds, stream.codec_context.width, stream.codec_context.height)
    except (av.FFmpegError, ValueError, OSError) as exc:
        return VideoFacts(error=f"it cannot be read as a video ({type(exc).__name__})")


def _seconds(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if container.duration is not None:
        return float(container.duration) / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None
