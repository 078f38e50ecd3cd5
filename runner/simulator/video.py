"""Per-task videos: one real H.264 clip plus a top-level MP4 `free` box.

The shipped clip (assets/clip.mp4, 1 s, 30 fps, H.264) starts with an `ftyp` box.
Each task's video is that clip followed by a `free` box carrying the task id and
deterministic padding up to the configured size. Players skip `free` boxes, so every
video stays valid and playable, and its bytes are a pure function of (task id, size).
Bodies are produced in chunks so that sizes up to hundreds of MB never sit in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import cache, lru_cache
from importlib import resources

__all__ = ["VideoLayout", "clip_bytes"]

_CHUNK = 64 * 1024
_BOX_HEADER = 8


@cache
def clip_bytes() -> bytes:
    """The shipped H.264 clip."""
    return resources.files("runner.simulator").joinpath("assets/clip.mp4").read_bytes()


class VideoLayout:
    """The bytes of one task's video, described without materialising them."""

    def __init__(self, task_id: str, size: int) -> None:
        clip = clip_bytes()
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
