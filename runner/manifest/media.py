"""Local media inspection: what an image, audio or video file is, by its bytes, and its hash.

Only the facts the manifest needs before anything is sent: the format (from magic
bytes, never the extension), pixel size for JPEG/PNG/BMP/WEBP, duration for WAV/MP3
(these headers are small and stable: read here), length and size of MP4/MOV videos
(runner.manifest.videos, with PyAV), byte size and SHA-256. A file is read once per
(path, mtime, size), however many rows use it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from runner.manifest.videos import probe_video, sniff_video

__all__ = [
    "AUDIO_MIMES",
    "IMAGE_MIMES",
    "LocalFile",
    "MediaCache",
    "MediaFormatError",
    "audio_duration_s",
    "decode_data_url",
    "describe_bytes",
    "image_size",
    "png_has_alpha",
    "sniff_audio",
    "sniff_image",
]

IMAGE_MIMES: Final = ("image/jpeg", "image/png", "image/bmp", "image/webp")
AUDIO_MIMES: Final = ("audio/wav", "audio/mpeg")
_READ_CAP: Final = 128 * 1024 * 1024  # larger files fail every model's size limit; do not hash them
_CHUNK: Final = 1024 * 1024


class MediaFormatError(ValueError):
    """The bytes are not a supported image/audio, or their header cannot be read."""


def sniff_image(data: bytes) -> str | None:
    """The MIME type of a supported image from its magic bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"BM") and len(data) >= 26:
        return "image/bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def sniff_audio(data: bytes) -> str | None:
    """The MIME type of a WAV or MP3 file from its magic bytes, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"ID3") or _parse_mp3_header(data, 0) is not None:
        return "audio/mpeg"
    return None


def image_size(data: bytes, mime: str) -> tuple[int, int]:
    """(width, height) in pixels read from the image header; MediaFormatError if unreadable."""
    try:
        if mime == "image/png":
            return _png_size(data)
        if mime == "image/jpeg":
            return _jpeg_size(data)
        if mime == "image/bmp":
            return _bmp_size(data)
        if mime == "image/webp":
            return _webp_size(data)
    except (struct.error, IndexError):
        pass
    msg = f"the {mime.split('/')[1].upper()} header is truncated or damaged"
    raise MediaFormatError(msg)


def png_has_alpha(data: bytes) -> bool:
    """True when a PNG's colour type carries an alpha channel (the API refuses those)."""
    return len(data) > 25 and data[25] in (4, 6)


def _png_size(data: bytes) -> tuple[int, int]:
    if data[12:16] != b"IHDR":
        raise IndexError
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise IndexError
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(width), int(height)
        pos += 2 + length
    raise IndexError


def _bmp_size(data: bytes) -> tuple[int, int]:
    (header,) = struct.unpack("<I", data[14:18])
    if header == 12:  # BITMAPCOREHEADER
        width, height = struct.unpack("<HH", data[18:22])
    else:
        width, height = struct.unpack("<ii", data[18:26])
    return abs(int(width)), abs(int(height))


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise IndexError
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise IndexError
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    raise IndexError


def audio_duration_s(data: bytes, mime: str) -> float:
    """Length in seconds of a WAV (from its header) or MP3 (Xing/VBRI frame count, else CBR bitrate)."""
    try:
        if mime == "audio/wav":
            return _wav_duration(data)
        duration = _mp3_duration(data)
    except (struct.error, IndexError, ZeroDivisionError):
        duration = None
    if duration is None:
        msg = f"the length of this {'WAV' if mime == 'audio/wav' else 'MP3'} file could not be determined"
        raise MediaFormatError(msg)
    return duration


def _wav_duration(data: bytes) -> float:
    pos, byte_rate, data_size = 12, 0, -1
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if chunk_id == b"fmt ":
            byte_rate = int.from_bytes(data[pos + 16 : pos + 20], "little")
        elif chunk_id == b"data":
            data_size = min(size, len(data) - pos - 8)
            break
        pos += 8 + size + (size & 1)
    if data_size < 0 or byte_rate == 0:
        raise IndexError
    return data_size / byte_rate


# MPEG audio header tables: bitrates (kbit/s) by [version is MPEG1][layer], sample rates by version.
_BITRATES: Final = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES: Final = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True, slots=True)
class _Mp3Frame:
    offset: int
    mpeg1: bool
    layer: int
    bitrate: int  # bit/s
    sample_rate: int
    samples: int  # per frame
    mono: bool


def _parse_mp3_header(data: bytes, pos: int) -> _Mp3Frame | None:
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return None
    version = (data[pos + 1] >> 3) & 3
    layer = 4 - ((data[pos + 1] >> 1) & 3)
    bitrate_index = data[pos + 2] >> 4
    rate_index = (data[pos + 2] >> 2) & 3
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    samples = 384 if layer == 1 else (1152 if mpeg1 or layer == 2 else 576)
    mono = (data[pos + 3] >> 6) == 3
    return _Mp3Frame(pos, mpeg1, layer, bitrate, _SAMPLE_RATES[version][rate_index], samples, mono)


def _find_mp3_frame(data: bytes, start: int) -> _Mp3Frame | None:
    pos = data.find(b"\xff", start)
    limit = min(len(data), start + 64 * 1024)
    while 0 <= pos < limit:
        frame = _parse_mp3_header(data, pos)
        if frame is not None:
            return frame
        pos = data.find(b"\xff", pos + 1)
    return None


def _mp3_duration(data: bytes) -> float | None:
    start = 0
    if data.startswith(b"ID3") and len(data) >= 10:
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        start = 10 + size + (10 if data[5] & 0x10 else 0)
    frame = _find_mp3_frame(data, start)
    if frame is None:
        return None
    frames = _xing_frames(data, frame) or _vbri_frames(data, frame)
    if frames:
        return frames * frame.samples / frame.sample_rate
    end = len(data) - (128 if data[-128:-125] == b"TAG" else 0)
    return (end - frame.offset) * 8 / frame.bitrate


def _xing_frames(data: bytes, frame: _Mp3Frame) -> int | None:
    side_info = (32 if not frame.mono else 17) if frame.mpeg1 else (17 if not frame.mono else 9)
    pos = frame.offset + 4 + side_info
    if data[pos : pos + 4] in (b"Xing", b"Info"):
        (flags,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        if flags & 1:
            (count,) = struct.unpack(">I", data[pos + 8 : pos + 12])
            return int(count)
    return None


def _vbri_frames(data: bytes, frame: _Mp3Frame) -> int | None:
    pos = frame.offset + 4 + 32
    if data[pos : pos + 4] == b"VBRI":
        (count,) = struct.unpack(">I", data[pos + 14 : pos + 18])
        return int(count)
    return None


def decode_data_url(url: str) -> tuple[str, bytes]:
    """(declared mime, decoded bytes) of a `data:<mime>;base64,<data>` URL; MediaFormatError if malformed."""
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        msg = "a data: URL must look like data:<mime>;base64,<data>"
        raise MediaFormatError(msg)
    mime = header[len("data:") : -len(";base64")].strip().lower()
    try:
        return mime, base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        msg = "the data: URL's base64 payload does not decode"
        raise MediaFormatError(msg) from None


@dataclass(frozen=True, slots=True)
class LocalFile:
    """What one local file is: its identity, format and measurements, never its bytes."""

    path: str  #: absolute path
    size: int
    sha256: str | None  #: None when the file was too large to be worth hashing
    mime: str | None  #: detected image, audio or video type, None when none of them
    width: int | None = None
    height: int | None = None
    has_alpha: bool = False
    duration_s: float | None = None
    error: str | None = None  #: why the header could not be read, when the format was recognised


class MediaCache:
    """Inspects local files once per (path, mtime, size), however many rows name them."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: OrderedDict[tuple[str, int, int], LocalFile] = OrderedDict()
        self._max = max_entries

    def inspect(self, path: Path) -> LocalFile:
        """Facts about `path` (absolute); OSError when it cannot be read."""
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        cached = self._entries.get(key)
        if cached is not None:
            self._entries.move_to_end(key)
            return cached
        info = _inspect_file(path, stat.st_size)
        self._entries[key] = info
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return info


def _inspect_file(path: Path, size: int) -> LocalFile:
    if size > _READ_CAP:
        with path.open("rb") as handle:
            head = handle.read(64)
        return LocalFile(str(path), size, None, sniff_image(head) or sniff_audio(head) or sniff_video(head))
    digest = hashlib.sha256()
    parts: list[bytes] = []
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            parts.append(chunk)
    data = b"".join(parts)
    return describe_bytes(str(path), data, digest.hexdigest())


def describe_bytes(path: str, data: bytes, sha256: str | None = None) -> LocalFile:
    """Facts about some image or audio bytes (also used for decoded data: URLs)."""
    digest = sha256 or hashlib.sha256(data).hexdigest()
    image_mime = sniff_image(data)
    if image_mime is not None:
        try:
            width, height = image_size(data, image_mime)
        except MediaFormatError as exc:
            return LocalFile(path, len(data), digest, image_mime, error=str(exc))
        alpha = image_mime == "image/png" and png_has_alpha(data)
        return LocalFile(path, len(data), digest, image_mime, width, height, has_alpha=alpha)
    audio_mime = sniff_audio(data)
    if audio_mime is not None:
        try:
            duration = audio_duration_s(data, audio_mime)
        except MediaFormatError as exc:
            return LocalFile(path, len(data), digest, audio_mime, error=str(exc))
        return LocalFile(path, len(data), digest, audio_mime, duration_s=duration)
    video_mime = sniff_video(data)
    if video_mime is not None:
        facts = probe_video(data)
        return LocalFile(
            path, len(data), digest, video_mime, facts.width, facts.height, duration_s=facts.seconds,
            error=facts.error,
        )  # fmt: skip
    return LocalFile(path, len(data), digest, None)
