"""Input media checks: URL forms, data URIs, image sniffing and the reserved rehearsal names.

The simulator never fetches a remote URL. A well-formed http(s) URL is assumed to be a
good image unless it uses one of these reserved names:

* host ending in `.invalid` -> 400 `InvalidParameter.DataInspection` (download failed);
  `timeout.invalid` and its subdomains -> the "download timed out" variant;
* host `not-an-image.example` or a path ending `.txt` -> 400 `InvalidImage.FileFormat`;
* host `forbidden.example` -> 400 `InvalidParameter` (no authorization, e.g. an expired signed URL);
* host `missing.example` -> 400 `InvalidParameter` (media resource not found).

Data URIs and uploaded `oss://` objects are really inspected: the bytes must be a JPEG,
PNG (without alpha), BMP or WEBP whose sides lie within the configured pixel range.
Remote audio and video are judged by their URL's extension (.wav/.mp3, .mp4/.mov);
uploaded ones by a sniff of their first bytes (WAV/MP3 headers; an MP4/MOV `ftyp` box).
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

from runner.simulator.errors import Problem

__all__ = [
    "ImageInfo",
    "check_audio_url",
    "check_image_bytes",
    "check_remote_url",
    "check_video_url",
    "decode_data_url",
    "sniff_audio",
    "sniff_image",
    "sniff_video",
]

_DOWNLOAD_FAILED = "Unable to download the media resource during the data inspection process."
_DOWNLOAD_TIMEOUT = "Download the media resource timed out during the data inspection process."
_NOT_FOUND = "Failed to find the requested media resource during the data inspection process."
_FORBIDDEN = "Don't have authorization to access the media resource during the data inspection process."
_BAD_FORMAT = "The media format is not supported or incorrect for the data inspection."
_NOT_IMAGE = "Invalid image type. Please ensure the uploaded file is a valid image."
_DECODE_FAILED = "Failed to decode the image during the data inspection."
_AUDIO_TYPES = "File type is not supported. Allowed types are: .wav, .mp3."
_VIDEO_TYPES = "File type is not supported. Allowed types are: .mp4, .mov."
_ALLOWED_MIME = {"image/jpeg", "image/jpg", "image/png", "image/bmp", "image/webp"}


@dataclass(frozen=True)
class ImageInfo:
    """What sniffing an image's header found."""

    kind: str  # jpeg | png | bmp | webp
    width: int
    height: int
    alpha: bool = False


def check_remote_url(url: str) -> Problem | None:
    """Rehearse download/format failures of an http(s) URL through the reserved names."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return Problem("InvalidURL", "Invalid URL provided in your request.")
    if host == "timeout.invalid" or host.endswith(".timeout.invalid"):
        return Problem("InvalidParameter.DataInspection", _DOWNLOAD_TIMEOUT)
    if host.endswith(".invalid") or host == "invalid":
        return Problem("InvalidParameter.DataInspection", _DOWNLOAD_FAILED)
    if host == "forbidden.example":
        return Problem("InvalidParameter", _FORBIDDEN)
    if host == "missing.example":
        return Problem("InvalidParameter", _NOT_FOUND)
    if host == "not-an-image.example" or parts.path.lower().endswith(".txt"):
        return Problem("InvalidImage.FileFormat", _NOT_IMAGE)
    return None


def check_audio_url(url: str) -> Problem | None:
    """An audio URL must be http(s) or oss://, reachable, and name a .wav or .mp3 file."""
    return _check_typed_url(url, (".wav", ".mp3"), _AUDIO_TYPES)


def check_video_url(url: str) -> Problem | None:
    """A video URL must be http(s) or oss://, reachable, and name a .mp4 or .mov file."""
    return _check_typed_url(url, (".mp4", ".mov"), _VIDEO_TYPES)


def _check_typed_url(url: str, suffixes: tuple[str, ...], message: str) -> Problem | None:
    """The reserved-name rehearsals, then the extension (an oss:// upload is sniffed instead)."""
    if url.startswith("oss://"):
        return None
    if not url.startswith(("http://", "https://")):
        return Problem("InvalidURL", "Invalid URL provided in your request.")
    problem = check_remote_url(url)
    if problem is not None and problem.code != "InvalidImage.FileFormat":
        return problem
    if not urlsplit(url).path.lower().endswith(suffixes):
        return Problem("InvalidURL", message)
    return None


def sniff_audio(data: bytes) -> Problem | None:
    """Uploaded audio must start like a WAV (RIFF/WAVE) or an MP3 (ID3 tag or frame sync)."""
    wav = data.startswith(b"RIFF") and data[8:12] == b"WAVE"
    mp3 = data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
    return None if wav or mp3 else Problem("InvalidURL", _AUDIO_TYPES)


def sniff_video(data: bytes) -> Problem | None:
    """Uploaded video must be an MP4/MOV: an `ftyp` box at offset 4."""
    return None if data[4:8] == b"ftyp" else Problem("InvalidURL", _VIDEO_TYPES)


def decode_data_url(url: str) -> tuple[str, bytes] | Problem:
    """Split `data:<mime>;base64,<data>` into (mime, bytes), or say why it is malformed."""
    header, sep, payload = url.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        return Problem("InvalidParameter.DataInspection", _BAD_FORMAT)
    mime = header[len("data:") : -len(";base64")].lower()
    if mime not in _ALLOWED_MIME:
        return Problem("InvalidImage.FileFormat", _NOT_IMAGE)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return Problem("InvalidParameter.DataInspection", _BAD_FORMAT)
    return mime, data


def check_image_bytes(
    data: bytes, min_px: int, max_px: int, max_bytes: int, size: int | None = None
) -> Problem | None:
    """Check that bytes (or a file's leading bytes and its `size`) are a usable image."""
    size = len(data) if size is None else size
    if size > max_bytes:
        return Problem(
            "InvalidParameter",
            f"The image is {size} bytes, larger than the model's limit of {max_bytes} bytes.",
        )
    info = sniff_image(data)
    if info is None:
        return Problem("InvalidImage.FileFormat", _NOT_IMAGE)
    if info.width <= 0 or info.height <= 0:
        return Problem("InvalidParameter", _DECODE_FAILED)
    if info.alpha:
        return Problem(
            "InvalidImage.FileFormat", "Invalid image type: PNG images must not have an alpha channel."
        )
    for side in (info.width, info.height):
        if not min_px <= side <= max_px:
            return Problem(
                "InvalidParameter",
                f"The image is {info.width}x{info.height} pixels; each side must be within "
                f"[{min_px}, {max_px}].",
            )
    return None


def sniff_image(data: bytes) -> ImageInfo | None:
    """Read the format and dimensions from an image header; None if it is not an image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 26:
        width, height = struct.unpack(">II", data[16:24])
        return ImageInfo("png", width, height, alpha=data[25] in (4, 6))
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return ImageInfo("bmp", width, abs(height))
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _sniff_webp(data)
    if data.startswith(b"\xff\xd8"):
        return _sniff_jpeg(data)
    return None


def _sniff_webp(data: bytes) -> ImageInfo | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return ImageInfo("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return ImageInfo("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageInfo("webp", width, height)
    return None


def _sniff_jpeg(data: bytes) -> ImageInfo | None:
    """Walk JPEG segments to the first start-of-frame marker."""
    offset = 2
    while offset + 9 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        length = struct.unpack(">H", data[offset + 2 : offset + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return ImageInfo("jpeg", width, height)
        offset += 2 + length
    return None
