"""Simulator input handling: image sniffing, reserved names, and arbitrary bodies never crash."""

from __future__ import annotations

import json
import struct
from typing import Any

import anyio
import httpx
import pytest
from data.media_fixtures import png as make_png
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_helpers import BASE, CREATE, HEADERS

from runner.simulator import ManualClock, SimConfig, create_app
from runner.simulator.media import check_image_bytes, check_remote_url, sniff_image


def _jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
    sof = b"\xff\xc0" + struct.pack(">HBHH", 17, 8, height, width) + b"\x00" * 10
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def _bmp(width: int, height: int) -> bytes:
    return b"BM" + b"\x00" * 16 + struct.pack("<ii", width, -height) + b"\x00" * 28


def _webp_vp8x(width: int, height: int) -> bytes:
    dims = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + b"\x00" * 4 + b"WEBPVP8X" + b"\x00" * 8 + dims


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (make_png(321, 241), "png"),
        (_jpeg(640, 480), "jpeg"),
        (_bmp(500, 400), "bmp"),
        (_webp_vp8x(800, 600), "webp"),
    ],
)
def test_sniff_reads_format_and_size(data: bytes, kind: str) -> None:
    """PNG, JPEG, BMP and WEBP headers yield their format and dimensions."""
    info = sniff_image(data)
    assert info is not None and info.kind == kind and info.width >= 321


def test_non_images_are_not_sniffed() -> None:
    """Text and MP4 bytes are not images."""
    assert sniff_image(b"hello world, not an image") is None
    assert sniff_image(b"\x00\x00\x00\x20ftypisom") is None


def test_image_limits_are_checked() -> None:
    """Too-large sides are refused; a fine image passes."""
    assert check_image_bytes(_jpeg(640, 480), 240, 8000, 10**7) is None
    too_big = check_image_bytes(_jpeg(9000, 480), 240, 8000, 10**7)
    assert too_big is not None and "9000x480" in too_big.message


def test_ordinary_urls_are_assumed_reachable() -> None:
    """A well-formed https URL outside the reserved names is accepted without fetching."""
    assert check_remote_url("https://cdn.example.com/images/cat.jpg?x=1") is None


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_BODIES = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {"model": st.sampled_from(["wan2.6-i2v-flash", "wan2.2-kf2v-flash", "x"]), "input": _JSON},
        optional={"parameters": _JSON},
    ),
    st.fixed_dictionaries(
        {
            "model": st.just("wan2.6-i2v-flash"),
            "input": st.fixed_dictionaries(
                {"img_url": st.text(max_size=30) | st.just("https://example.com/a.png")},
                optional={"prompt": _JSON, "audio_url": _JSON, "negative_prompt": _JSON},
            ),
            "parameters": st.dictionaries(
                st.sampled_from(["resolution", "duration", "seed", "audio", "shot_type"]), _JSON
            ),
        }
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=_BODIES, validation_at=st.sampled_from(["submit", "task"]))
def test_arbitrary_bodies_get_api_shaped_answers(payload: Any, validation_at: str) -> None:
    """Whatever JSON arrives, the answer is 200 or an API error body, never a 500 or traceback."""
    config = SimConfig(seed=1, validation_at=validation_at, media_validation_at=validation_at)  # type: ignore[arg-type]
    app = create_app(config, clock=ManualClock())

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return await client.post(CREATE, content=json.dumps(payload), headers=HEADERS)

    response = anyio.run(post)
    data = response.json()
    assert response.status_code in (200, 400, 413), data
    if response.status_code == 200:
        assert data["output"]["task_status"] == "PENDING"
    else:
        assert set(data) == {"request_id", "code", "message"}
