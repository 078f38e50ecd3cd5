"""Byte-exact media builders for tests: real PNG/BMP/WAV files and minimal JPEG/WEBP/MP3 headers.

Only what runner.manifest.media reads has to be right: signatures, size fields, frame headers.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

__all__ = ["bmp", "jpeg", "mp3_cbr", "mp3_xing", "png", "wav", "webp_vp8", "webp_vp8l", "webp_vp8x"]

Pixel = Callable[[int, int], tuple[int, int, int]]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, pixel: Pixel | None = None, *, alpha: bool = False) -> bytes:
    """A valid PNG (8-bit RGB, or RGBA with `alpha`); `pixel(x, y)` colours it (grey by default)."""
    color_type, channels = (6, 4) if alpha else (2, 3)
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rgb = pixel(x, y) if pixel else (128, 128, 128)
            rows += bytes(rgb) + (b"\xff" if channels == 4 else b"")
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    body = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def jpeg(width: int, height: int, *, app_segments: int = 1) -> bytes:
    """A JPEG header (SOI, `app_segments` large APPn segments, SOF0) then EOI; enough for size sniffing."""
    app = (b"\xff\xe1" + struct.pack(">H", 60_002) + b"\x00" * 60_000) * app_segments
    sof = (
        b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    )
    return b"\xff\xd8" + app + sof + b"\xff\xd9"


def bmp(width: int, height: int, *, top_down: bool = False) -> bytes:
    """A valid 24-bit BMP filled with black."""
    row = (width * 3 + 3) & ~3
    pixels = b"\x00" * row * height
    info = struct.pack(
        "<IiiHHIIiiII", 40, width, -height if top_down else height, 1, 24, 0, len(pixels), 0, 0, 0, 0
    )
    header = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(pixels), 0, 0, 54)
    return header + info + pixels


def _riff_webp(chunk: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def webp_vp8(width: int, height: int) -> bytes:
    """A lossy WEBP header (VP8 key frame tag and dimensions)."""
    frame = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\x00" * 8
    return _riff_webp(b"VP8 " + struct.pack("<I", len(frame)) + frame)


def webp_vp8l(width: int, height: int) -> bytes:
    """A lossless WEBP header (VP8L signature and 14-bit dimensions)."""
    bits = (width - 1) | ((height - 1) << 14)
    body = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 8
    return _riff_webp(b"VP8L" + struct.pack("<I", len(body)) + body)


def webp_vp8x(width: int, height: int) -> bytes:
    """An extended WEBP header (VP8X canvas size)."""
    body = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return _riff_webp(b"VP8X" + struct.pack("<I", len(body)) + body)


def wav(seconds: float, *, rate: int = 8000) -> bytes:
    """A valid mono 16-bit PCM WAV of silence lasting `seconds`."""
    data = b"\x00\x00" * int(rate * seconds)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


_FRAME_HEADER = b"\xff\xfb\x90\x00"  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz, no padding, stereo
_FRAME_LEN = 417  # 144 * 128000 // 44100


def mp3_cbr(seconds: float, *, id3: bool = True) -> bytes:
    """A constant-bitrate MP3 of empty frames lasting about `seconds`, with an ID3v2 tag first."""
    frames = round(seconds * 44100 / 1152)
    frame = _FRAME_HEADER + b"\x00" * (_FRAME_LEN - 4)
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 if id3 else b""
    return tag + frame * frames


def mp3_xing(frames: int) -> bytes:
    """A VBR MP3 whose first frame carries a Xing header announcing `frames` frames (only 3 follow)."""
    xing = b"Xing" + struct.pack(">II", 1, frames)
    first = _FRAME_HEADER + b"\x00" * 32 + xing
    first += b"\x00" * (_FRAME_LEN - len(first))
    return first + (_FRAME_HEADER + b"\x00" * (_FRAME_LEN - 4)) * 3
