"""What a finished video is, read with PyAV (FFmpeg): picture size, frame rate, frames, length,
codec, whether it has sound; and whether it decodes at all.

A dataset row states these facts of its own video, not of the request: a service that sends
another size or frame rate than asked is seen here. A video counts as decodable when FFmpeg
demuxes its container to the end (every packet of the video stream is counted: its frames)
and decodes its first frame; decoding every frame would cost about a second per 1080p video.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

__all__ = ["UndecodableVideo", "VideoFacts", "probe_video"]


@dataclass(frozen=True, slots=True)
class VideoFacts:
    """The probed facts of one video."""

    width: int
    height: int
    fps: float | None  #: the stream's average frame rate
    frames: int  #: packets of the video stream (one frame each)
    seconds: float | None  #: the video stream's length, else the container's
    codec: str  #: FFmpeg's codec name, e.g. "h264"
    has_audio: bool


class UndecodableVideo(Exception):
    """The video cannot be read as one: the reason, as a phrase ("it has no video stream")."""


def probe_video(path: Path) -> VideoFacts:
    """Probe the video at `path`; UndecodableVideo when FFmpeg cannot read it."""
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                raise UndecodableVideo("it has no video stream")
            stream = container.streams.video[0]
            frames = sum(1 for packet in container.demux(stream) if packet.size)
            container.seek(0)
            first = next(container.decode(stream), None)
            if first is None:
                raise UndecodableVideo("no frame of it decodes")
            return VideoFacts(
                width=first.width,
                height=first.height,
                fps=_rate(stream.average_rate or stream.guessed_rate),
                frames=frames,
                seconds=_seconds(container, stream),
                codec=stream.codec_context.name,
                has_audio=bool(container.streams.audio),
            )
    except (av.FFmpegError, ValueError, OSError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise UndecodableVideo(f"FFmpeg cannot read it ({reason})") from exc


def _rate(rate: Fraction | None) -> float | None:
    return None if rate is None else round(float(rate), 6)


def _seconds(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return round(float(stream.duration * stream.time_base), 6)
    if container.duration is not None:
        return round(float(container.duration) / av.time_base, 6)
    return None
