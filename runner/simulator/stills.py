"""The pictures a simulated video is made from: each input image, or a video's first frame, as a small still.

A task's video pans over its first frame and fades to its last (scenes.py). The simulator
keeps a small JPEG of each such input rather than the input: a run may send thousands of
megabyte images, and a clip 90 px tall needs no more than a still whose shorter side is
144 px. Stills are named by the sha256 of their own bytes, so a picture that many tasks
share is kept once; the memory file (memory.py) keeps them with the tasks, so a resumed
simulator's videos are the same.

Data: URL images are stilled at submission (once per distinct content). Uploads are stilled
when they arrive, from the whole file: the upload store keeps only each file's first bytes,
too few for a photograph. Images are decoded with Pillow, a video's first frame with PyAV.
What neither can read gives no still, and the video shows a generated background, as it
does for a remote URL (never fetched).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import BinaryIO

import av
from PIL import Image, ImageOps

__all__ = ["StillStore", "make_still"]

_SHORT_SIDE = 144  #: 1.6 × the clip's shorter side: room to zoom in without blur
_LONG_SIDE = 960  #: panoramas stay sharp across the widest clip (720 px)
_QUALITY = 85

#: told of each new still (its name and bytes), for the memory file
OnNewStill = Callable[[str, bytes], None]


def make_still(source: BinaryIO) -> bytes | None:
    """A JPEG of the image (or the video's first frame) in `source`, shrunk; None if unreadable."""
    picture = _open_image(source) or _first_video_frame(source)
    if picture is None:
        return None
    scale = min(1.0, _SHORT_SIDE / min(picture.size), _LONG_SIDE / max(picture.size))
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    small = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=_QUALITY)
    return out.getvalue()


def _open_image(source: BinaryIO) -> Image.Image | None:
    source.seek(0)
    try:
        with Image.open(source) as image:
            image.draft("RGB", (_SHORT_SIDE * 2, _SHORT_SIDE * 2))  # JPEG: decode at a reduced scale
            upright = ImageOps.exif_transpose(image)
            return _rgb(upright)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _first_video_frame(source: BinaryIO) -> Image.Image | None:
    source.seek(0)
    try:
        with av.open(source, mode="r") as container:
            for frame in container.decode(video=0):
                return Image.fromarray(frame.to_ndarray(format="rgb24"))
    except (av.FFmpegError, ValueError, OSError, IndexError):
        return None
    return None


def _rgb(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on black (the API refuses alpha; a test may still send it)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


class StillStore:
    """Every still the simulator holds, by name (the first 16 hex digits of its sha256)."""

    def __init__(self, on_new: OnNewStill | None = None) -> None:
        self._stills: dict[str, bytes] = {}
        self._by_source: dict[str, str | None] = {}  #: sha256 of an input's bytes → its still's name
        self._on_new = on_new

    def from_bytes(self, data: bytes) -> str | None:
        """The name of the still of an input held in memory (decoded once per distinct content)."""
        source = hashlib.sha256(data).hexdigest()
        if source not in self._by_source:
            self._by_source[source] = self.from_file(io.BytesIO(data))
        return self._by_source[source]

    def from_file(self, source: BinaryIO) -> str | None:
        """The name of the still of the input in `source` (an uploaded file), or None."""
        still = make_still(source)
        return None if still is None else self.add(still)

    def add(self, still: bytes, *, remembered: bool = False) -> str:
        """Keep a still (made here, or `remembered` from the memory file, which is not told of
        it again); return its name."""
        name = hashlib.sha256(still).hexdigest()[:16]
        if name not in self._stills:
            self._stills[name] = still
            if self._on_new is not None and not remembered:
                self._on_new(name, still)
        return name

    def get(self, name: str | None) -> bytes | None:
        """The still called `name` (None for None or a name not held)."""
        return None if name is None else self._stills.get(name)
