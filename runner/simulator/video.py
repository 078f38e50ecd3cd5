"""Per-task videos: a real H.264 clip of the task's scene, plus a top-level MP4 `free` box.

The clip is encoded with PyAV (libx264) from the frames of the task's scene (scenes.py: a
slow pan and zoom over its first frame, fading to its last, with the prompt as a caption).
Its length is the task's output seconds and its width:height the task's aspect, at a tiny
size (the shorter side 90 px, both sides even) and 10 fps, so that a test suite's
thousands of distinct clips stay quick to make. Clips are cached per scene, so a scene is
encoded once per process however often its video is fetched. Each task's video is its clip
followed by a `free` box carrying the task id and deterministic padding up to the
configured size. Players skip `free` boxes, so every video stays valid and playable, and
its bytes are a pure function of the task. Bodies are produced in chunks so that sizes up
to hundreds of MB never sit in memory.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from fractions import Fraction
from functools import lru_cache

import av

from runner.simulator.scenes import Scene, scene_frames

__all__ = ["CLIP_FPS", "VideoLayout", "clip_bytes", "clip_size"]

CLIP_FPS = 10  #: the clips' frame rate (the usage still reports the model's own)
_CHUNK = 64 * 1024
_BOX_HEADER = 8
_SHORT_SIDE = 90
_MAX_ASPECT = 8.0  # wider inputs still get a watchable strip


def clip_size(ratio: str) -> tuple[int, int]:
    """Width and height for an aspect "W:H": the shorter side 90 px, both sides even."""
    left, _, right = ratio.partition(":")
    width, height = float(left), float(right)
    aspect = min(max(width, height) / min(width, height), _MAX_ASPECT)
    longer = 2 * round(_SHORT_SIDE * aspect / 2)
    return (longer, _SHORT_SIDE) if width >= height else (_SHORT_SIDE, longer)


@lru_cache(maxsize=64)
def clip_bytes(scene: Scene) -> bytes:
    """An MP4 (H.264, yuv420p, CLIP_FPS) of the scene's frames; deterministic bytes."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = scene.width, scene.height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "40", "threads": "1"}
        for index, picture in enumerate(scene_frames(scene)):
            frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]  # untyped in PyAV's stub
            frame.pts, frame.time_base = index, Fraction(1, CLIP_FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


class VideoLayout:
    """The bytes of one task's video, described without materialising them."""

    def __init__(self, task_id: str, size: int, clip: bytes) -> None:
        label = f"runner-simulator task_id={task_id}\n".encode()
        self.size = max(size, len(clip) + _BOX_HEADER + len(label))
        box_size = self.size - len(clip)
        self._head = clip + box_size.to_bytes(4, "big") + b"free" + label
        self._block = _padding_block(task_id)

    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """The bytes in [start, stop) as a sequence of chunks of at most 64 KiB."""
        stop = self.size if stop is None else min(stop, self.size)
        position = start
        while position < stop:
            piece = self._piece(position, min(stop, position + _CHUNK))
            position += len(piece)
            yield piece

    def _piece(self, start: int, stop: int) -> bytes:
        head = len(self._head)
        if start < head:
            return self._head[start : min(stop, head)]
        offset = (start - head) % len(self._block)
        length = min(stop - start, len(self._block) - offset)
        return self._block[offset : offset + length]

    def sha256(self) -> str:
        """The hex sha256 of the whole video."""
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()


@lru_cache(maxsize=64)
def _padding_block(task_id: str) -> bytes:
    """64 KiB of deterministic filler derived from the task id (repeated as needed)."""
    seed = hashlib.sha256(task_id.encode()).digest()
    return hashlib.shake_256(seed).digest(_CHUNK)
