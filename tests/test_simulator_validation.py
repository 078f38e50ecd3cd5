"""Simulator refusals: auth, the async header, body shape, per-model rules, input media."""

from __future__ import annotations

from typing import Any

import pytest
from factories import png_data_url
from sim_helpers import AUTH, CREATE, HEADERS, KF2V, body, open_sim

pytestmark = pytest.mark.anyio


async def _refusal(payload: Any, **overrides: Any) -> tuple[int, str, str]:
    async with open_sim(**overrides) as h:
        response = await h.submit(payload)
        data = response.json()
        assert set(data) == {"request_id", "code", "message"}, data
        return response.status_code, data["code"], data["message"]


@pytest.mark.parametrize(
    ("authorization", "message"),
    [(None, "No API-key provided."), ("Bearer sk-wrong", "Invalid API-key provided.")],
)
async def test_api_key_is_required_and_checked(authorization: str | None, message: str) -> None:
    """A missing or wrong key is 401 InvalidApiKey with the real messages."""
    headers = {"X-DashScope-Async": "enable"}
    if authorization:
        headers["Authorization"] = authorization
    async with open_sim() as h:
        response = await h.client.post(CREATE, json=body(), headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "InvalidApiKey"
        assert response.json()["message"] == message


async def test_any_key_accepted_when_api_key_is_none() -> None:
    """With api_key=None any non-empty Bearer key is accepted."""
    async with open_sim(api_key=None) as h:
        headers = {"Authorization": "Bearer sk-anything", "X-DashScope-Async": "enable"}
        assert (await h.client.post(CREATE, json=body(), headers=headers)).status_code == 200


async def test_create_without_async_header_is_access_denied() -> None:
    """Create without X-DashScope-Async: enable is 403 AccessDenied."""
    async with open_sim() as h:
        response = await h.client.post(CREATE, json=body(), headers=AUTH)
        assert response.status_code == 403 and response.json()["code"] == "AccessDenied"


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[1, 2]", b'"text"'])
async def test_malformed_body_is_body_invalid(raw: bytes) -> None:
    """Bodies that are not a JSON object get 400 InvalidParameter 'Required body invalid'."""
    async with open_sim() as h:
        response = await h.client.post(CREATE, content=raw, headers=HEADERS)
        assert response.status_code == 400
        assert response.json()["code"] == "InvalidParameter"
        assert response.json()["message"].startswith("Required body invalid")


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        ({"input": {"img_url": "https://a.example/x.png"}}, "BadRequest.EmptyModel", "model"),
        ({"model": "wan9-nope", "input": {}}, "InvalidParameter", "Model not exist."),
        ({"model": 42, "input": {}}, "InvalidParameter", "Model not exist."),
        ({"model": "wan2.6-i2v-flash"}, "BadRequest.EmptyInput", "input"),
        ({"model": "wan2.6-i2v-flash", "input": "x"}, "InvalidParameter", "Required body invalid"),
        ({"model": "wan2.6-i2v-flash", "input": {}, "parameters": [1]}, "InvalidParameter", "body"),
        ({"model": "wan2.6-i2v-flash", "input": {"prompt": "x"}}, "InvalidParameter", "img_url"),
        ({"model": "wan2.6-i2v-flash", "input": {"img_url": ""}}, "InvalidParameter", "img_url"),
        (body("wan2.2-kf2v-flash"), "InvalidParameter", "url error"),
    ],
)
async def test_structural_problems_are_refused_at_submit(
    payload: dict[str, Any], code: str, message: str
) -> None:
    """Missing model/input/image and unknown models are 400 with the real codes."""
    status, got_code, got_message = await _refusal(payload, validation_at="task")
    assert (status, got_code) == (400, code) and message in got_message


async def test_i2v_model_on_kf2v_path_is_url_error() -> None:
    """A first-frame model sent to the image2video path is 400 'url error'."""
    async with open_sim() as h:
        response = await h.client.post(KF2V, json=body(), headers=HEADERS)
        assert response.status_code == 400 and "url error" in response.json()["message"]


@pytest.mark.parametrize(
    "payload",
    [
        body(resolution="480P"),
        body(resolution="720p"),
        body(duration=16),
        body(duration="5"),
        body(duration=5.5),
        body("wan2.2-i2v-flash", duration=10),
        body("wanx2.1-i2v-plus", resolution="1080P"),
        body(seed=-1),
        body(seed=2**31),
        body(shot_type="triple"),
        body(watermark="yes"),
        body(prompt_extend="no"),
        {
            "model": "wan2.2-i2v-plus",
            "input": {"img_url": "https://e.example/a.png", "audio_url": "https://e.example/a.mp3"},
        },
        body(prompt=123),  # type: ignore[arg-type]
    ],
)
async def test_disallowed_parameters_are_invalid_parameter(payload: dict[str, Any]) -> None:
    """Values outside the model's matrix are 400 InvalidParameter at submit by default."""
    status, code, _ = await _refusal(payload)
    assert (status, code) == (400, "InvalidParameter")


async def test_parameter_rules_can_fail_the_task_instead() -> None:
    """With validation_at=task a bad resolution is accepted, then the task FAILS with the code."""
    async with open_sim(validation_at="task") as h:
        task_id = await h.submit_id(body(resolution="480P"))
        h.clock.advance(600)
        output = (await h.query(task_id))["output"]
        assert output["task_status"] == "FAILED"
        assert output["code"] == "InvalidParameter" and "resolution" in output["message"]


async def test_long_prompt_is_truncated_by_default() -> None:
    """A prompt over the model's limit is accepted and truncated (orig_prompt shows the cut)."""
    async with open_sim() as h:
        task_id = await h.submit_id(body("wan2.2-i2v-flash", prompt="x" * 900))
        h.clock.advance(7200)
        assert (await h.query(task_id))["output"]["orig_prompt"] == "x" * 800


async def test_long_prompt_can_be_rejected() -> None:
    """With long_prompt=reject an over-long prompt or negative prompt is 400 InvalidParameter."""
    status, code, message = await _refusal(body(prompt="y" * 1501), long_prompt="reject")
    assert (status, code) == (400, "InvalidParameter") and "1500" in message
    negative = body()
    negative["input"]["negative_prompt"] = "n" * 501
    assert (await _refusal(negative, long_prompt="reject"))[1] == "InvalidParameter"


async def test_sdk_extra_input_keys_and_null_prompt_are_accepted() -> None:
    """extend_prompt, function and a null prompt (what the 1.x SDK sends) are fine."""
    payload = body(prompt=None)
    payload["input"].update({"extend_prompt": True, "function": "video-synthesis"})
    async with open_sim() as h:
        await h.submit_id(payload)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://cdn.invalid/cat.png", "InvalidParameter.DataInspection"),
        ("https://timeout.invalid/cat.png", "InvalidParameter.DataInspection"),
        ("https://not-an-image.example/cat.png", "InvalidImage.FileFormat"),
        ("https://example.com/notes.txt", "InvalidImage.FileFormat"),
        ("https://forbidden.example/cat.png", "InvalidParameter"),
        ("https://missing.example/cat.png", "InvalidParameter"),
        ("ftp://example.com/cat.png", "InvalidURL"),
        ("/home/me/cat.png", "InvalidURL"),
        ("https:///nohost.png", "InvalidURL"),
    ],
)
async def test_unreachable_or_non_image_urls_are_refused(url: str, code: str) -> None:
    """Reserved names rehearse download and format failures without any network."""
    status, got, _ = await _refusal(body(img_url=url))
    assert (status, got) == (400, code)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("data:image/png;base64,@@@not-base64@@@", "InvalidParameter.DataInspection"),
        ("data:image/png,rawtext", "InvalidParameter.DataInspection"),
        ("data:text/plain;base64,aGVsbG8=", "InvalidImage.FileFormat"),
        ("data:image/png;base64,aGVsbG8=", "InvalidImage.FileFormat"),
        (png_data_url(100, 100), "InvalidParameter"),
        (png_data_url(320, 240, alpha=True), "InvalidImage.FileFormat"),
    ],
)
async def test_bad_data_urls_are_refused(url: str, code: str) -> None:
    """Malformed, non-image, too small or alpha-channel data URIs are refused with their code."""
    status, got, _ = await _refusal(body(img_url=url))
    assert (status, got) == (400, code)


async def test_good_data_url_is_accepted() -> None:
    """A well-formed PNG data URI within the limits is accepted."""
    async with open_sim() as h:
        await h.submit_id(body(img_url=png_data_url()))


async def test_media_problems_can_fail_the_task_instead() -> None:
    """With media_validation_at=task an unreachable image FAILS the task with the code."""
    async with open_sim(media_validation_at="task") as h:
        task_id = await h.submit_id(body(img_url="https://cdn.invalid/cat.png"))
        h.clock.advance(600)
        output = (await h.query(task_id))["output"]
        assert (output["task_status"], output["code"]) == (
            "FAILED",
            "InvalidParameter.DataInspection",
        )


async def test_audio_url_must_be_wav_or_mp3() -> None:
    """An audio_url that is not .wav/.mp3 is 400 InvalidURL; a good one is accepted."""
    bad = body()
    bad["input"]["audio_url"] = "https://example.com/song.ogg"
    assert (await _refusal(bad))[1] == "InvalidURL"
    good = body()
    good["input"]["audio_url"] = "https://example.com/song.mp3"
    async with open_sim() as h:
        await h.submit_id(good)


async def test_data_url_over_cap_is_too_large() -> None:
    """A data URI over data_url_max_bytes is 413 BadRequest.TooLarge."""
    status, code, _ = await _refusal(body(img_url=png_data_url(1200, 1200)), data_url_max_bytes=2000)
    assert (status, code) == (413, "BadRequest.TooLarge")


async def test_huge_body_is_too_large_not_a_crash() -> None:
    """A body over the cap outside data URIs is 413 BadRequest.TooLarge."""
    payload = body(prompt="z" * 50_000)
    status, code, _ = await _refusal(payload, max_body_bytes=10_000, data_url_max_bytes=10_000)
    assert (status, code) == (413, "BadRequest.TooLarge")
    status, code, _ = await _refusal(payload, max_body_bytes=10_000)
    assert (status, code) == (413, "BadRequest.TooLarge")


async def test_image_over_model_size_limit_is_refused() -> None:
    """An image larger than the model's MB limit is 400 InvalidParameter."""
    overrides = {"models": {"wan2.6-i2v-flash": {"image_max_mb": 0}}}
    status, code, _ = await _refusal(body(img_url=png_data_url(300, 300)), **overrides)
    assert (status, code) == (400, "InvalidParameter")
