"""Local audio rules, checked before anything is sent: each rule's exact message, and tone_wav."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest
from data.media_fixtures import mp3_cbr, mp3_xing, png, wav

from runner.core.errors import ManifestError
from runner.manifest.loader import load_manifest

FLASH = {"model": "wan2.6-i2v-flash"}


def tone_wav(path: Path, seconds: float = 4.0, rate: int = 16000) -> bytes:
    """Write a gentle mono 16-bit arpeggio (C-E-G-C) as a real WAV at `path`; return its bytes."""
    notes = (261.63, 329.63, 392.00, 523.25)
    frames = bytearray()
    per_note = int(rate * seconds / len(notes))
    for freq in notes:
        for i in range(per_note):
            fade = min(1.0, i / 400, (per_note - i) / 400)  # no clicks between notes
            sample = 0.3 * fade * math.sin(2 * math.pi * freq * i / rate)
            frames += struct.pack("<h", int(sample * 32767))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path.read_bytes()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "ok.png").write_bytes(png(300, 260))
    return tmp_path


def _problems(folder: Path, audio_url: str, model: str = "wan2.6-i2v-flash") -> list[str]:
    path = folder / "rows.csv"
    path.write_text(f'model,img_url,audio_url\n{model},ok.png,"{audio_url}"\n', encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    return [str(p).replace(f"{folder}/", "", 1) for p in info.value.problems]


def test_audio_over_15_mb_is_refused(folder: Path) -> None:
    """A WAV above 15 MB is refused with its size, before its length is even considered."""
    (folder / "big.wav").write_bytes(wav(1000.0))
    assert _problems(folder, "big.wav") == [
        "rows.csv:2: audio_url: 'big.wav' is 15.3 MB; wan2.6-i2v-flash accepts audio up to 15.0 MB."
    ]


def test_audio_that_is_not_wav_or_mp3_by_content_is_refused(folder: Path) -> None:
    """An Ogg file named .mp3 is judged by its bytes and refused."""
    (folder / "song.mp3").write_bytes(b"OggS" + b"\x00" * 4000)
    assert _problems(folder, "song.mp3") == [
        "rows.csv:2: audio_url: 'song.mp3' is not a WAV or MP3 file (judged by its content, not its name)."
    ]


def test_audio_whose_length_cannot_be_read_is_refused(folder: Path) -> None:
    """A WAV without a data chunk cannot be measured: the message says so and what to convert to."""
    (folder / "empty.wav").write_bytes(wav(4.0)[:36])
    assert _problems(folder, "empty.wav") == [
        "rows.csv:2: audio_url: 'empty.wav': the length of this WAV file could not be determined; "
        "convert it to WAV or constant-bitrate MP3."
    ]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (
            "short.wav",
            wav(2.9),
            "'short.wav' is 2.9 seconds long; wan2.6-i2v-flash needs audio of 3 to 30 seconds.",
        ),
        (
            "long.wav",
            wav(30.5),
            "'long.wav' is 30.5 seconds long; wan2.6-i2v-flash needs audio of 3 to 30 seconds.",
        ),
    ],
)
def test_audio_length_must_be_3_to_30_seconds(folder: Path, name: str, data: bytes, expected: str) -> None:
    """Just under 3 s and just over 30 s are refused with the measured length."""
    (folder / name).write_bytes(data)
    assert _problems(folder, name) == [f"rows.csv:2: audio_url: {expected}"]


def test_audio_on_a_model_without_audio_is_refused(folder: Path) -> None:
    """wan2.2-i2v-flash takes no audio_url: the message names the models that do."""
    tone_wav(folder / "tone.wav")
    assert _problems(folder, "tone.wav", model="wan2.2-i2v-flash") == [
        "rows.csv:2: audio_url: wan2.2-i2v-flash takes no driving_audio; its inputs are only "
        "first_frame. Models that take driving_audio: wan2.6-i2v-flash, wan2.6-i2v, wan2.6-i2v-us, "
        "wan2.5-i2v-preview, wan2.6-t2v."
    ]


def test_audio_as_a_data_url_is_refused(folder: Path) -> None:
    """The API takes no base64 audio; a data: URL says so."""
    assert _problems(folder, "data:audio/wav;base64,AAAA") == [
        "rows.csv:2: audio_url: the API takes audio only as an http(s) URL or a file, not as a data: URL."
    ]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("edge3.wav", wav(3.0)),
        ("edge30.wav", wav(30.0)),
        ("cbr.mp3", mp3_cbr(10.0)),
        ("vbr.mp3", mp3_xing(400)),
    ],
)
def test_valid_audio_at_the_limits_is_accepted(folder: Path, name: str, data: bytes) -> None:
    """Exactly 3 s, exactly 30 s, a CBR MP3 and a Xing VBR MP3 are all accepted, by path or file:// URL."""
    (folder / name).write_bytes(data)
    for value in (name, (folder / name).as_uri()):
        path = folder / "rows.csv"
        path.write_text(f"img_url,audio_url\nok.png,{value}\n", encoding="utf-8")
        (spec,) = load_manifest(path, overrides=FLASH).specs
        assert spec.audio is not None and spec.audio.path == str(folder / name)


def test_tone_wav_is_a_small_real_wav(tmp_path: Path) -> None:
    """The generated tone is mono 16 kHz, 4 s long and well under 200 KB."""
    data = tone_wav(tmp_path / "tone.wav")
    with wave.open(str(tmp_path / "tone.wav")) as read:
        assert (read.getnchannels(), read.getframerate()) == (1, 16000)
        assert read.getnframes() / read.getframerate() == pytest.approx(4.0)
    assert len(data) < 200 * 1024
