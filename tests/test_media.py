"""Local media inspection: formats by content, pixel sizes, audio lengths, hashing once."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from data.media_fixtures import bmp, jpeg, mp3_cbr, mp3_xing, png, wav, webp_vp8, webp_vp8l, webp_vp8x

from runner.manifest.media import (
    MediaCache,
    MediaFormatError,
    audio_duration_s,
    decode_data_url,
    describe_bytes,
    image_size,
    sniff_audio,
    sniff_image,
)


@pytest.mark.parametrize(
    ("data", "mime", "size"),
    [
        (png(301, 257), "image/png", (301, 257)),
        (jpeg(640, 480), "image/jpeg", (640, 480)),
        (jpeg(1024, 768, app_segments=3), "image/jpeg", (1024, 768)),
        (bmp(320, 240), "image/bmp", (320, 240)),
        (bmp(320, 240, top_down=True), "image/bmp", (320, 240)),
        (webp_vp8(500, 400), "image/webp", (500, 400)),
        (webp_vp8l(7999, 240), "image/webp", (7999, 240)),
        (webp_vp8x(8000, 6000), "image/webp", (8000, 6000)),
    ],
)
def test_image_format_and_size_come_from_the_header(data: bytes, mime: str, size: tuple[int, int]) -> None:
    """Each supported format is recognised by its magic bytes and its width/height parsed."""
    assert sniff_image(data) == mime
    assert image_size(data, mime) == size


def test_unsupported_bytes_are_not_an_image() -> None:
    """GIF and text are not recognised as images, whatever a file name might say."""
    assert sniff_image(b"GIF89a" + b"\x00" * 20) is None
    assert sniff_image(b"hello world, this is text") is None


def test_truncated_png_header_is_reported() -> None:
    """A PNG cut before its IHDR raises MediaFormatError naming the format."""
    with pytest.raises(MediaFormatError, match="PNG header is truncated"):
        image_size(png(300, 300)[:14], "image/png")


def test_png_alpha_is_detected() -> None:
    """An RGBA PNG is flagged as having an alpha channel; an RGB one is not."""
    assert describe_bytes("x", png(300, 300, alpha=True)).has_alpha
    assert not describe_bytes("x", png(300, 300)).has_alpha


def test_wav_duration_from_header() -> None:
    """A WAV's length is its data size over its byte rate."""
    data = wav(4.5)
    assert sniff_audio(data) == "audio/wav"
    assert audio_duration_s(data, "audio/wav") == pytest.approx(4.5)


def test_cbr_mp3_duration_from_bitrate() -> None:
    """A constant-bitrate MP3 after an ID3 tag is measured from its frame bitrate."""
    data = mp3_cbr(6.0)
    assert sniff_audio(data) == "audio/mpeg"
    assert audio_duration_s(data, "audio/mpeg") == pytest.approx(6.0, abs=0.05)


def test_vbr_mp3_duration_from_xing_frame_count() -> None:
    """A Xing header's frame count gives the length even when the file is short."""
    data = mp3_xing(frames=500)
    assert sniff_audio(data) == "audio/mpeg"
    assert audio_duration_s(data, "audio/mpeg") == pytest.approx(500 * 1152 / 44100)


def test_unreadable_wav_length_is_an_error() -> None:
    """A WAV without a data chunk has no knowable length: MediaFormatError says so."""
    data = wav(1.0)[:36]
    with pytest.raises(MediaFormatError, match="could not be determined"):
        audio_duration_s(data, "audio/wav")


def test_data_url_decodes_and_reports_mime() -> None:
    """A base64 data: URL yields its declared mime and bytes; a broken one is an error."""
    raw = png(240, 240)
    mime, data = decode_data_url("data:image/png;base64," + base64.b64encode(raw).decode())
    assert (mime, data) == ("image/png", raw)
    with pytest.raises(MediaFormatError, match="does not decode"):
        decode_data_url("data:image/png;base64,@@@")
    with pytest.raises(MediaFormatError, match="data:<mime>;base64"):
        decode_data_url("data:image/png,plain")


def test_cache_hashes_a_file_once_and_again_after_a_change(tmp_path: Path) -> None:
    """The cache returns the same facts for an unchanged file and re-reads a modified one."""
    path = tmp_path / "a.png"
    path.write_bytes(png(300, 300))
    cache = MediaCache()
    first = cache.inspect(path)
    assert cache.inspect(path) is first
    assert first.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (first.mime, first.width, first.height, first.size) == ("image/png", 300, 300, path.stat().st_size)
    path.write_bytes(png(400, 300))
    os.utime(path, ns=(1, 1))
    second = cache.inspect(path)
    assert second is not first
    assert second.width == 400
