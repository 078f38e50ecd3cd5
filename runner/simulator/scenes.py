"""What a simulated video shows, frame by frame: the task's own picture coming to life.

A clip is a slow pan and zoom (a Ken Burns move) over the first frame's still, fading to
the last frame's still when the task has one (first-and-last-frame models), with the
prompt as a caption along the bottom. A task without a picture (text-to-video, a remote
URL that is never fetched) gets a gradient coloured from its caption instead. The move,
its direction and the colours follow from the stills and the caption alone, so the same
scene always gives the same frames. Drawing is Pillow's; encoding is video.py's.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = ["Scene", "scene_frames"]

_ZOOM = 1.15  #: how far the camera pushes in (or pulls out) over the clip
_FADE = (0.5, 0.9)  #: the share of the clip over which the first still dissolves into the last
_BAND_ALPHA = 150  #: the caption band's opacity, of 255
_ELLIPSIS = "…"
_SPACE = "  "  #: between words: one space of Pillow's font at 10 px is barely a pixel wide


@dataclass(frozen=True)
class Scene:
    """One clip's content and shape; stills are JPEG bytes (stills.py). Hashable: clips are
    cached per scene."""

    width: int
    height: int
    frames: int
    caption: str = ""
    first: bytes | None = None
    last: bytes | None = None


def scene_frames(scene: Scene) -> Iterator[Image.Image]:
    """The scene's frames, as RGB images of its size."""
    seed = hashlib.sha256(scene.first or scene.caption.encode()).digest()
    size = (scene.width, scene.height)
    opening = _fitted(_decode(scene.first) if scene.first else _gradient(seed), size)
    closing = _fitted(_decode(scene.last), size) if scene.last else None
    move = _Move.from_seed(seed)
    band = _caption_band(scene.caption, scene.width, scene.height)
    count = max(scene.frames, 1)
    for index in range(count):
        t = index / max(count - 1, 1)
        frame = move.view(opening, t, scene.width, scene.height)
        if closing is not None:
            mix = _ease((t - _FADE[0]) / (_FADE[1] - _FADE[0]))
            if mix > 0:
                frame = Image.blend(frame, move.view(closing, t, scene.width, scene.height), mix)
        if band is not None:
            frame.paste(band, (0, scene.height - band.height), band)
        yield frame


def _ease(t: float) -> float:
    """Smoothstep: 0 before 0, 1 after 1, gentle at both ends."""
    t = min(max(t, 0.0), 1.0)
    return t * t * (3 - 2 * t)


@dataclass(frozen=True)
class _Move:
    """A camera move: zoom from one factor to another while the centre drifts across the margin."""

    zoom_from: float
    zoom_to: float
    drift_x: float  #: -1..1: where the centre goes, as a share of the margin on each side
    drift_y: float

    @classmethod
    def from_seed(cls, seed: bytes) -> _Move:
        pushes_in = seed[0] % 2 == 0
        zoom_from, zoom_to = (1.0, _ZOOM) if pushes_in else (_ZOOM, 1.0)
        return cls(zoom_from, zoom_to, (seed[1] / 255) * 2 - 1, (seed[2] / 255) - 0.5)

    def view(self, still: Image.Image, t: float, width: int, height: int) -> Image.Image:
        """What the camera sees of `still` at `t` (0..1), scaled to width × height."""
        eased = _ease(t)
        zoom = self.zoom_from + (self.zoom_to - self.zoom_from) * eased
        box_w, box_h = _cover(still.width, still.height, width / height)
        box_w, box_h = box_w / zoom, box_h / zoom
        margin_x, margin_y = (still.width - box_w) / 2, (still.height - box_h) / 2
        centre_x = still.width / 2 + margin_x * self.drift_x * (2 * eased - 1)
        centre_y = still.height / 2 + margin_y * self.drift_y * (2 * eased - 1)
        left, top = centre_x - box_w / 2, centre_y - box_h / 2
        box = (left, top, left + box_w, top + box_h)
        return still.resize((width, height), Image.Resampling.BILINEAR, box=box)


def _fitted(still: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The still scaled so that the frame covers it exactly at zoom 1: every frame's resize
    then reads about as many pixels as it writes (cheap, and a thousand clips add up)."""
    box_w, _ = _cover(still.width, still.height, size[0] / size[1])
    scale = size[0] / box_w
    fitted = (max(size[0], round(still.width * scale)), max(size[1], round(still.height * scale)))
    return still.resize(fitted, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _cover(still_w: int, still_h: int, aspect: float) -> tuple[float, float]:
    """The largest width × height of `aspect` inside the still (the clip fills its frame)."""
    if still_w / still_h > aspect:
        return still_h * aspect, float(still_h)
    return float(still_w), still_w / aspect


@lru_cache(maxsize=32)
def _decode(still: bytes) -> Image.Image:
    with Image.open(io.BytesIO(still)) as image:
        return image.convert("RGB")


@lru_cache(maxsize=8)
def _gradient(seed: bytes) -> Image.Image:
    """A diagonal two-colour gradient with a soft glow (176 px square), its colours drawn from `seed`."""
    hue = seed[3] / 255
    dark = _colour(hue, 0.65, 0.30)
    light = _colour((hue + 0.2) % 1.0, 0.45, 0.85)
    ramp = Image.linear_gradient("L").rotate(45 + seed[4] % 90, resample=Image.Resampling.BILINEAR)
    ramp = ImageOps.autocontrast(ramp.crop((40, 40, 216, 216)))
    base = ImageOps.colorize(ramp, dark, light)
    glow = ImageOps.invert(Image.radial_gradient("L")).resize(base.size)
    lit = Image.composite(Image.new("RGB", base.size, _colour(hue, 0.2, 1.0)), base, glow)
    return Image.blend(base, lit, 0.35)


def _colour(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _caption_band(caption: str, width: int, height: int) -> Image.Image | None:
    """The caption as white text on a translucent band as wide as the frame (None: no caption)."""
    words = caption.split()
    if not words:
        return None
    size = max(8, round(min(width, height) * 0.11))
    font = _font(size)
    pad = max(2, size // 3)
    lines = _wrap(words, font, width - 2 * pad, max_lines=max(2, height // 50))
    line_height = size + 2
    band = Image.new("RGBA", (width, len(lines) * line_height + 2 * pad), (0, 0, 0, _BAND_ALPHA))
    draw = ImageDraw.Draw(band)
    for row, line in enumerate(lines):
        draw.text((pad, pad + row * line_height), line, font=font, fill=(255, 255, 255, 255))
    return band


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's own font (the same on every machine), at `size` px where FreeType is available."""
    return ImageFont.load_default(size=size)


def _wrap(
    words: list[str], font: ImageFont.FreeTypeFont | ImageFont.ImageFont, room: int, max_lines: int
) -> list[str]:
    """Words into at most `max_lines` lines of at most `room` px; an ellipsis when they do not fit."""
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current}{_SPACE}{word}" if current else word
        if font.getlength(candidate) <= room or not current:
            current = candidate
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines:
            break
    else:
        lines.append(current)
        return [_fit(line, font, room) for line in lines]
    lines[-1] = _fit(lines[-1] + _ELLIPSIS, font, room)
    return [_fit(line, font, room) for line in lines]


def _fit(line: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, room: int) -> str:
    """The line, cut short with an ellipsis if it is wider than `room` px."""
    if font.getlength(line) <= room:
        return line
    while line and font.getlength(line + _ELLIPSIS) > room:
        line = line[:-1]
    return line.rstrip() + _ELLIPSIS
