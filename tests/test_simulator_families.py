"""Every model family the simulator speaks: valid bodies succeed with the family's usage and a
video of the requested length and aspect; wrong combinations are 400 InvalidParameter."""

from __future__ import annotations

from typing import Any

import pytest
from data.media_fixtures import wav
from sim_helpers import (
    CREATE,
    HEADERS,
    KF2V,
    OSS_HEADERS,
    SimHarness,
    body,
    media_body,
    mp4,
    open_sim,
    png_url,
    text_body,
    video_shape,
)

from runner.core import MODELS as CLIENT_MODELS
from runner.simulator.models import MODELS

pytestmark = pytest.mark.anyio

_FRAME = {"type": "first_frame", "url": "https://example.com/cat.png"}
_LAST = {"type": "last_frame", "url": "https://example.com/end.png"}
_AUDIO = {"type": "driving_audio", "url": "https://example.com/a.mp3"}
_CLIP = {"type": "first_clip", "url": "https://example.com/start.mp4"}
_REF_IMAGE = {"type": "reference_image", "url": "https://example.com/hero.png"}
_REF_VIDEO = {"type": "reference_video", "url": "https://example.com/walk.mp4"}
_VIDEO = {"type": "video", "url": "https://example.com/source.mp4"}
_MEDIA_USAGE = {
    "duration",
    "input_video_duration",
    "output_video_duration",
    "video_count",
    "SR",
    "fps",
    "ratio",
}


def _kf2v_body(**parameters: Any) -> dict[str, Any]:
    payload = body("wan2.2-kf2v-flash", **parameters)
    payload["input"]["last_frame_url"] = "https://example.com/end.png"
    return payload


def _r2v26(urls: list[str], model: str = "wan2.6-r2v", **parameters: Any) -> dict[str, Any]:
    return {
        "model": model,
        "input": {"prompt": "character1 waves", "reference_urls": urls},
        "parameters": parameters,
    }


async def _run(
    h: SimHarness, payload: dict[str, Any], path: str = CREATE
) -> tuple[dict[str, Any], tuple[float, int, int]]:
    """Submit, finish, download: the task body and the video's (seconds, width, height)."""
    response = await h.client.post(path, json=payload, headers=OSS_HEADERS)
    assert response.status_code == 200, response.text
    done = await h.finished(response.json()["output"]["task_id"])
    assert done["output"]["task_status"] == "SUCCEEDED", done
    return done, video_shape(await h.download(done["output"]["video_url"]))


def _aspect(ratio: str) -> float:
    width, _, height = ratio.partition(":")
    return float(width) / float(height)


def _case(payload: dict[str, Any], usage: dict[str, Any], actual: bool, seconds: float, ratio: str, name: str,
          path: str = CREATE) -> Any:  # fmt: skip
    """One success case: the body, its usage, whether actual_prompt shows, the video's length and aspect."""
    return pytest.param(payload, path, usage, actual, seconds, ratio, id=name)


def _wan26(output: int, billed_input: int = 0, tier: int = 1080) -> dict[str, Any]:
    """The wan2.6 usage shape: whole seconds, input and output apart."""
    return {"duration": output + billed_input, "input_video_duration": billed_input,
            "output_video_duration": output, "video_count": 1, "SR": tier}  # fmt: skip


def _floats(
    output: float, ratio: str, billed_input: float = 0.0, tier: int = 1080, fps: int = 30
) -> dict[str, Any]:
    """The wan2.7 / wan3.0 / HappyHorse usage shape: float seconds plus fps and ratio."""
    seconds = {"duration": output + billed_input, "input_video_duration": billed_input}
    return seconds | {
        "output_video_duration": output,
        "video_count": 1,
        "SR": tier,
        "fps": fps,
        "ratio": ratio,
    }


def _tier(seconds: int, tier: int) -> dict[str, Any]:
    """The wan2.5 / wan2.2 / kf2v 2.2 usage shape."""
    return {"duration": seconds, "SR": tier, "video_count": 1}


def _frame(width: int, height: int) -> dict[str, str]:
    return {"type": "first_frame", "url": png_url(width, height)}


_TWO_REFS = ["https://example.com/hero.png", "https://example.com/walk.mp4"]
_SUCCEEDS = [
    _case(text_body("wan2.6-t2v", size="1280*720", duration=3, shot_type="multi"), _wan26(3, tier=720),
          False, 3, "16:9", "wan2.6-t2v"),
    _case(text_body("wan2.5-t2v-preview", size="832*480", duration=10), _tier(10, 480),
          True, 10, "26:15", "wan2.5-t2v"),
    _case(text_body("wan2.2-t2v-plus", size="1080*1920"), _tier(5, 1080), True, 5, "9:16", "wan2.2-t2v"),
    _case(_r2v26(_TWO_REFS, size="720*1280", duration=4), _wan26(4, 5, 720), False, 4, "9:16", "wan2.6-r2v"),
    _case(_r2v26(_TWO_REFS[:1], "wan2.6-r2v-flash", audio=False, duration=2), _wan26(2) | {"audio": False},
          False, 2, "16:9", "wan2.6-r2v-flash"),
    _case(text_body("wan2.7-t2v", ratio="9:16", duration=6, resolution="720P"),
          _floats(6.0, "9:16", tier=720), False, 6, "9:16", "wan2.7-t2v"),
    _case(media_body("wan2.7-i2v", [_frame(400, 300), _AUDIO]), _floats(5.0, "4:3"),
          False, 5, "4:3", "wan2.7-i2v-frame-audio"),
    _case(media_body("wan2.7-i2v-2026-04-25", [_CLIP, _LAST], duration=8), _floats(8.0, "16:9"),
          False, 8, "16:9", "wan2.7-i2v-first-clip"),
    _case(media_body("wan2.7-r2v", [_frame(300, 400), _REF_IMAGE], ratio="16:9"), _floats(5.0, "3:4"),
          False, 5, "3:4", "wan2.7-r2v-frame-wins-over-ratio"),
    _case(media_body("wan2.7-videoedit", [_VIDEO, _REF_IMAGE], audio_setting="origin"),
          _floats(5.0, "16:9", 5.0), False, 5, "16:9", "wan2.7-videoedit-remote"),
    _case(media_body("wan3.0-video", None, duration=-1, audio=False, resolution="480P"),
          _floats(5.0, "16:9", tier=480), False, 5, "16:9", "wan3.0-prompt-only"),
    _case(media_body("wan3.0-video-prime", [_REF_VIDEO, _REF_VIDEO, _REF_IMAGE], duration=12, ratio="1:1"),
          _floats(12.0, "1:1", 10.0), False, 12, "1:1", "wan3.0-references"),
    _case(media_body("wan3.0-video", [_frame(320, 240), _LAST], prompt=None), _floats(5.0, "4:3"),
          False, 5, "4:3", "wan3.0-adaptive-frames"),
    _case(media_body("happyhorse-1.1-i2v", [_frame(400, 400)], duration=3), _floats(3.0, "1:1", fps=24),
          False, 3, "1:1", "happyhorse-i2v"),
    _case(text_body("happyhorse-1.0-t2v", ratio="21:9", duration=4, prompt_extend=True),
          _floats(4.0, "21:9", fps=24), False, 4, "21:9", "happyhorse-t2v"),
    _case(_kf2v_body(resolution="480P"), _tier(5, 480), True, 5, "16:9", "kf2v", KF2V),
]  # fmt: skip


@pytest.mark.parametrize(("payload", "path", "usage", "actual", "seconds", "ratio"), _SUCCEEDS)
async def test_a_valid_body_of_each_family_succeeds_shaped_like_the_request(
    payload: dict[str, Any], path: str, usage: dict[str, Any], actual: bool, seconds: float, ratio: str
) -> None:
    """usage has the family's keys and types, actual_prompt only where the family returns it, and
    the video (read with PyAV) lasts the requested seconds at the requested aspect."""
    async with open_sim() as h:
        done, (length, width, height) = await _run(h, payload, path)
    assert done["usage"] == usage
    assert [type(done["usage"][k]) for k in usage] == [type(v) for v in usage.values()]
    if set(usage) >= _MEDIA_USAGE:
        assert set(done["usage"]) == _MEDIA_USAGE
    output = done["output"]
    assert ("actual_prompt" in output) is actual
    prompt = payload["input"].get("prompt")
    assert output.get("orig_prompt") == prompt
    assert length == pytest.approx(seconds, abs=0.05)
    assert width / height == pytest.approx(_aspect(ratio), rel=0.04)
    assert min(width, height) == 90 and width % 2 == height % 2 == 0


async def test_uploaded_videos_are_measured_for_the_output_and_the_bill() -> None:
    """oss:// videos are read with PyAV: videoedit's duration 0 keeps the input's 4 s and bills
    it; wan2.7 r2v bills a 3 s reference video whole and a longer one capped at 5 s."""
    async with open_sim() as h:
        source = await h.upload("wan2.7-videoedit", mp4(4, 90, 160), "source.mp4")
        done, (length, width, height) = await _run(
            h, media_body("wan2.7-videoedit", [{"type": "video", "url": source}])
        )
        assert (done["usage"]["output_video_duration"], done["usage"]["duration"]) == (4.0, 8.0)
        assert done["usage"]["ratio"] == "9:16" and length == pytest.approx(4.0) and width < height
        short = await h.upload("wan2.7-r2v", mp4(3), "short.mp4")
        long = await h.upload("wan2.7-r2v", mp4(7), "long.mp4")
        for url, billed in ((short, 3.0), (long, 5.0)):
            media = [{"type": "reference_video", "url": url}]
            done, _ = await _run(h, media_body("wan2.7-r2v", media, duration=10))
            assert done["usage"]["input_video_duration"] == billed
            assert done["usage"]["duration"] == 10.0 + billed


async def test_r2v_26_tells_uploaded_videos_from_images_by_their_bytes() -> None:
    """An oss:// reference with an `ftyp` box counts as a video (three at most), its length billed."""
    async with open_sim() as h:
        clip = await h.upload("wan2.6-r2v", mp4(2), "clip")
        done, _ = await _run(h, _r2v26([clip, "https://example.com/a.png"], duration=5))
        assert done["usage"]["input_video_duration"] == 2
        four = [await h.upload("wan2.6-r2v", mp4(2), f"c{n}") for n in range(4)]
        response = await h.client.post(CREATE, json=_r2v26(four), headers=OSS_HEADERS)
        assert response.status_code == 400 and "at most 3" in response.json()["message"]


_TWO_VIDEOS = [_VIDEO, _VIDEO]


def _refused(payload: dict[str, Any], fragment: str, name: str, path: str = CREATE) -> Any:
    """One refusal case: the body and a fragment of the 400 InvalidParameter message."""
    return pytest.param(payload, path, fragment, id=name)


_TWO_VIDEOS = [_VIDEO, _VIDEO]
_T2V_AUDIO = {"model": "wan2.2-t2v-plus", "input": {"prompt": "x", "audio_url": "https://e.example/a.mp3"}}
_MEDIA_STRING = {"model": "wan2.7-i2v", "input": {"prompt": "x", "media": "https://example.com/a.png"}}
_REFUSED = [
    _refused(media_body("wan2.7-i2v", [_CLIP, _AUDIO]), "first_clip+driving_audio", "i2v-set"),
    _refused(media_body("wan2.7-i2v", [_FRAME, _FRAME]), "at most 1", "i2v-twice"),
    _refused(media_body("wan2.7-i2v", [_FRAME, _REF_IMAGE]), "reference_image", "i2v-type"),
    _refused(media_body("wan2.7-i2v", [_LAST]), "allows first_frame", "i2v-last-only"),
    _refused(media_body("wan2.7-i2v", [_FRAME], ratio="16:9"), "takes no ratio", "i2v-ratio"),
    _refused(body("wan2.7-i2v"), "media", "i2v-img-url"),
    _refused(media_body("wan2.7-i2v", [{"type": "first_frame"}]), "url", "i2v-no-url"),
    _refused(media_body("wan2.7-i2v", [_FRAME], duration=16), "duration", "i2v-duration"),
    _refused(media_body("wan2.7-i2v", [_FRAME], audio=True), "audio", "i2v-audio-param"),
    _refused(_MEDIA_STRING, "media", "media-not-a-list"),
    _refused(
        media_body("wan3.0-video", [_FRAME, _REF_IMAGE]), "The two modes are mutually exclusive", "wan3-modes"
    ),
    _refused(media_body("wan3.0-video", None, prompt=None), "prompt", "wan3-nothing"),
    _refused(media_body("wan3.0-video", [_REF_IMAGE] * 11), "at most 10", "wan3-images"),
    _refused(media_body("wan3.0-video", None, ratio="2:1"), "ratio", "wan3-ratio"),
    _refused(media_body("wan3.0-video", None, duration=31), "duration", "wan3-duration"),
    _refused(media_body("wan3.0-video", [_CLIP]), "first_clip", "wan3-type"),
    _refused(body("wan2.2-kf2v-flash"), "url error", "kf2v-wrong-path"),
    _refused(media_body("wan2.7-i2v", [_FRAME]), "url error", "i2v-on-kf2v-path", KF2V),
    _refused(text_body("wan2.6-t2v", size="1000*1000"), "size", "t2v-bad-size"),
    _refused(text_body("wan2.2-t2v-plus", size="1280*720"), "size", "t2v-tier"),
    _refused(text_body("wan2.6-t2v", resolution="720P"), "takes no resolution", "t2v-resolution"),
    _refused(text_body("wan2.5-t2v-preview", duration=7), "duration", "t2v-duration"),
    _refused(text_body("wan2.5-t2v-preview", shot_type="multi"), "shot_type", "t2v-shot"),
    _refused(text_body("wan2.6-t2v", prompt=None), "prompt", "t2v-no-prompt"),
    _refused(_T2V_AUDIO, "audio_url", "t2v-audio"),
    _refused(_r2v26(["https://example.com/a.png"] * 6), "at most 5", "r2v26-six"),
    _refused(_r2v26([]), "reference_urls", "r2v26-none"),
    _refused(_r2v26(["https://example.com/a.png"], audio=False), "audio", "r2v26-audio"),
    _refused(_r2v26(["https://example.com/a.png"], duration=11), "duration", "r2v26-duration"),
    _refused(media_body("wan2.7-r2v", [_REF_IMAGE, _REF_VIDEO] * 3), "1 to 5", "r2v27-six"),
    _refused(media_body("wan2.7-r2v", [_FRAME]), "1 to 5", "r2v27-frame-only"),
    _refused(media_body("wan2.7-r2v", [_REF_IMAGE], prompt=None), "prompt", "r2v27-no-prompt"),
    _refused(media_body("wan2.7-r2v", [_REF_VIDEO], duration=12), "reference video", "r2v27-long"),
    _refused(media_body("wan2.7-videoedit", [_REF_IMAGE]), "allows video", "edit-no-video"),
    _refused(media_body("wan2.7-videoedit", _TWO_VIDEOS), "at most 1", "edit-two-videos"),
    _refused(media_body("wan2.7-videoedit", [_VIDEO] + [_REF_IMAGE] * 5), "at most 4", "edit-images"),
    _refused(media_body("wan2.7-videoedit", [_VIDEO], audio_setting="loud"), "audio_setting", "edit-audio"),
    _refused(media_body("wan2.7-videoedit", [_VIDEO], duration=1), "duration", "edit-duration"),
    _refused(media_body("happyhorse-1.1-t2v", [_FRAME]), "takes no media", "hh-t2v-media"),
    _refused(text_body("happyhorse-1.1-t2v", ratio="2:3"), "ratio", "hh-t2v-ratio"),
    _refused(text_body("happyhorse-1.0-t2v", resolution="480P"), "resolution", "hh10-480"),
    _refused(media_body("happyhorse-1.1-i2v", None), "media", "hh-i2v-none"),
    _refused(media_body("happyhorse-1.1-i2v", [_FRAME], ratio="1:1"), "ratio", "hh-i2v-ratio"),
    _refused(media_body("happyhorse-1.1-i2v", [_FRAME], duration=2), "duration", "hh-duration"),
    _refused(text_body("wan2.7-t2v", ratio="21:9"), "ratio", "wan27-t2v-ratio"),
    _refused(text_body("wan2.7-t2v", size="1280*720"), "takes no size", "wan27-t2v-size"),
]


@pytest.mark.parametrize(("payload", "path", "fragment"), _REFUSED)
async def test_a_wrong_combination_is_invalid_parameter(
    payload: dict[str, Any], path: str, fragment: str
) -> None:
    """Each family's set, count and parameter rules: 400 InvalidParameter naming the problem."""
    async with open_sim() as h:
        response = await h.client.post(path, json=payload, headers=HEADERS)
    data = response.json()
    assert (response.status_code, data["code"]) == (400, "InvalidParameter"), data
    assert fragment in data["message"]


async def test_the_modes_message_starts_like_the_service_s() -> None:
    async with open_sim() as h:
        response = await h.submit(media_body("wan3.0-video", [_LAST, _REF_VIDEO]))
    assert response.json()["message"].startswith("The two modes are mutually exclusive")


async def test_set_rules_are_refused_at_submit_even_when_parameters_fail_tasks() -> None:
    """Media sets are structure: validation_at=task still refuses them; a foreign parameter fails the task."""
    async with open_sim(validation_at="task") as h:
        refused = await h.submit(media_body("wan2.7-i2v", [_CLIP, _AUDIO]))
        assert refused.status_code == 400
        task_id = await h.submit_id(media_body("wan2.7-i2v", [_FRAME], ratio="16:9"))
        output = (await h.finished(task_id))["output"]
        assert (output["task_status"], output["code"]) == ("FAILED", "InvalidParameter")


@pytest.mark.parametrize(
    ("model", "item", "data", "code"),
    [
        ("wan2.7-videoedit", "video", b"not a video at all", "InvalidURL"),
        ("wan2.7-i2v", "first_clip", mp4(12), "InvalidParameter"),
        ("wan2.7-i2v", "driving_audio", b"\x00" * 64, "InvalidURL"),
    ],
)
async def test_uploaded_media_content_is_checked(model: str, item: str, data: bytes, code: str) -> None:
    """Uploaded video must sniff as MP4/MOV and fit the type's length; audio must sniff as WAV/MP3."""
    media = [{"type": item, "url": ""}]
    if item == "driving_audio":
        media.insert(0, _FRAME)
    async with open_sim() as h:
        media[-1]["url"] = await h.upload(model, data, "input.bin")
        response = await h.client.post(CREATE, json=media_body(model, media), headers=OSS_HEADERS)
    assert (response.status_code, response.json()["code"]) == (400, code), response.json()


async def test_media_content_problems_can_fail_the_task_instead() -> None:
    """media_validation_at=task: a remote video that is not .mp4/.mov FAILS the task."""
    async with open_sim(media_validation_at="task") as h:
        payload = media_body("wan2.7-videoedit", [{"type": "video", "url": "https://example.com/a.avi"}])
        task_id = await h.submit_id(payload)
        output = (await h.finished(task_id))["output"]
        assert (output["task_status"], output["code"]) == ("FAILED", "InvalidURL")


async def test_uploaded_audio_and_voices_are_accepted() -> None:
    """A WAV upload passes as driving_audio; wan2.7 r2v items may carry a reference_voice."""
    async with open_sim() as h:
        audio = await h.upload("wan2.7-i2v", wav(3), "voice.wav")
        await _run(h, media_body("wan2.7-i2v", [_FRAME, {"type": "driving_audio", "url": audio}]))
        voiced = {**_REF_IMAGE, "reference_voice": "https://example.com/v.mp3"}
        await _run(h, media_body("wan2.7-r2v", [voiced]))
        bad_voice = {**_REF_IMAGE, "reference_voice": "https://example.com/v.ogg"}
        assert (await h.submit(media_body("wan2.7-r2v", [bad_voice]))).status_code == 400
        other = media_body("wan3.0-video", [{**_REF_IMAGE, "reference_voice": "https://example.com/v.mp3"}])
        assert "reference_voice" in (await h.submit(other)).json()["message"]


@pytest.mark.parametrize(
    ("model", "size", "fragment"),
    [("happyhorse-1.1-i2v", (299, 400), "[300, 8000]"), ("wan2.7-i2v", (2000, 240), "1:8 and 8:1")],
)
async def test_family_image_limits_apply_to_images_it_can_read(
    model: str, size: tuple[int, int], fragment: str
) -> None:
    """HappyHorse wants sides of 300 px or more; wan2.7 an aspect within 1:8 to 8:1."""
    async with open_sim() as h:
        response = await h.submit(media_body(model, [{"type": "first_frame", "url": png_url(*size)}]))
    assert response.status_code == 400 and fragment in response.json()["message"]


async def test_wan30_reference_videos_may_last_15_seconds_in_all() -> None:
    async with open_sim() as h:
        clips = [await h.upload("wan3.0-video", mp4(8), f"r{n}.mp4") for n in range(2)]
        media = [{"type": "reference_video", "url": url} for url in clips]
        response = await h.client.post(CREATE, json=media_body("wan3.0-video", media), headers=OSS_HEADERS)
    assert response.status_code == 400 and "15 s" in response.json()["message"]


async def test_sdk_extras_and_the_workspace_header_are_accepted() -> None:
    """extend_prompt in input and an X-DashScope-WorkSpace header are ignored."""
    payload = media_body("wan2.7-i2v", [_FRAME])
    payload["input"]["extend_prompt"] = True
    async with open_sim() as h:
        response = await h.client.post(
            CREATE, json=payload, headers={**HEADERS, "X-DashScope-WorkSpace": "ws-1"}
        )
        assert response.status_code == 200, response.text


async def test_data_urls_inside_media_lists_have_their_own_size_cap() -> None:
    """A media[] or reference_urls data: image counts against data_url_max_bytes, not the body cap."""
    image = png_url(1200, 1200)
    async with open_sim(max_body_bytes=4000) as h:
        await h.submit_id(media_body("wan2.7-i2v", [{"type": "first_frame", "url": image}]))
        await h.submit_id(_r2v26([image]))
        too_big = await h.submit(
            media_body("wan2.7-i2v", [{"type": "first_frame", "url": image}], prompt="p" * 5000)
        )
        assert too_big.status_code == 413


async def test_list_rows_name_the_model_s_path_segment() -> None:
    async with open_sim() as h:
        await h.submit_id(_kf2v_body(), path=KF2V)
        await h.submit_id(text_body("wan2.7-t2v"))
        rows = (await h.client.get("/tasks", headers=HEADERS)).json()["data"]
    keys = {row["model_name"]: row["user_api_unique_key"] for row in rows}
    assert keys["wan2.2-kf2v-flash"] == "apikey:v1:aigc:image2video:video-synthesis:wan2.2-kf2v-flash"
    assert keys["wan2.7-t2v"] == "apikey:v1:aigc:video-generation:video-synthesis:wan2.7-t2v"


def test_the_table_knows_every_model_with_its_quota() -> None:
    """29 models; 5/s and 5 running except the older 2/2 ones."""
    slow = {"wan2.2-i2v-flash", "wan2.2-i2v-plus", "wanx2.1-i2v-turbo", "wan2.1-i2v-turbo", "wan2.2-t2v-plus"}
    slow |= {
        "wanx2.1-i2v-plus",
        "wan2.1-i2v-plus",
        "wan2.2-kf2v-flash",
        "wanx2.1-kf2v-plus",
        "wan2.1-kf2v-plus",
    }
    assert len(MODELS) == 29
    for name, spec in MODELS.items():
        expected = (2.0, 2) if name in slow else (5.0, 5)
        assert (spec.submit_rate, spec.concurrency) == expected, name
    assert MODELS["wan2.7-videoedit"].durations == (0, *range(2, 11))
    assert MODELS["wan3.0-video"].durations == (-1, *range(2, 31))
    assert MODELS["happyhorse-1.0-i2v"].resolutions == ("720P", "1080P")


def test_the_simulator_restates_the_client_s_catalogue() -> None:
    """The two tables are written apart on purpose; what a request may carry must agree.
    (Quotas may differ: the simulator keeps the kf2v models at 2/2 whatever the region.)"""
    assert set(MODELS) == set(CLIENT_MODELS)
    for name, client in CLIENT_MODELS.items():
        spec = MODELS[name]
        assert (spec.durations, spec.default_duration) == (client.durations, client.default_duration), name
        assert (spec.resolutions, spec.default_resolution) == (
            client.resolutions,
            client.default_resolution,
        ), name
        assert spec.prompt_max == client.prompt_max, name
        assert spec.path_segment == client.family.path, name
