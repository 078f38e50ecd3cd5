"""The official dashscope SDK against the simulator on a loopback port (uvicorn)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from data.media_fixtures import png as make_png
from sim_helpers import video_shape

from runner.simulator import SimConfig, create_app
from runner.simulator.server import serve_in_thread

dashscope = pytest.importorskip("dashscope")
from dashscope import VideoSynthesis  # noqa: E402

pytestmark = pytest.mark.slow

_KEY = "sk-sim-local"


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    """One loopback simulator for the module: 90 s tasks take about 45 ms."""
    config = SimConfig.profile(
        "fast",
        seed=5,
        time_scale=0.0005,
        models={"wan2.2-i2v-plus": {"concurrency": 1}},
    )
    with serve_in_thread(create_app(config)) as url:
        yield url


@pytest.fixture
def sdk(sim_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The dashscope module pointed at the simulator."""
    monkeypatch.setattr(dashscope, "base_http_api_url", sim_url)
    monkeypatch.setattr(dashscope, "api_key", _KEY)
    return dashscope


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        data: bytes = response.read()
        assert int(response.headers["Content-Length"]) == len(data)
        return data


def test_sdk_call_succeeds_and_video_downloads(sdk: Any) -> None:
    """VideoSynthesis.call (submit + wait) returns SUCCEEDED with a downloadable MP4."""
    result = VideoSynthesis.call(
        model="wan2.6-i2v-flash",
        prompt="a cat surfing",
        img_url="https://example.com/cat.png",
        resolution="720P",
        duration=5,
    )
    assert result.status_code == HTTPStatus.OK, result
    assert result.output.task_status == "SUCCEEDED"
    video = _download(result.output.video_url)
    assert video[4:8] == b"ftyp" and result.output.task_id.encode() in video


def test_sdk_async_call_fetch_wait(sdk: Any) -> None:
    """async_call gives PENDING; fetch reads the task; wait ends SUCCEEDED with usage."""
    submitted = VideoSynthesis.async_call(
        model="wan2.2-i2v-flash", prompt="a dog", img_url="https://example.com/dog.png"
    )
    assert submitted.status_code == HTTPStatus.OK, submitted
    assert submitted.output.task_status == "PENDING"
    fetched = VideoSynthesis.fetch(submitted)
    assert fetched.output.task_id == submitted.output.task_id
    done = VideoSynthesis.wait(submitted)
    assert done.output.task_status == "SUCCEEDED" and done.usage.video_count == 1


def test_sdk_cancel_and_list(sdk: Any) -> None:
    """cancel works on a queued task; list returns the documented data rows."""
    blocker = VideoSynthesis.async_call(
        model="wan2.2-i2v-plus", prompt="long [sim-time:100000]", img_url="https://e.example/a.png"
    )
    queued = VideoSynthesis.async_call(
        model="wan2.2-i2v-plus", prompt="queued", img_url="https://e.example/b.png"
    )
    assert blocker.status_code == queued.status_code == HTTPStatus.OK
    canceled = VideoSynthesis.cancel(queued)
    assert canceled.status_code == HTTPStatus.OK, canceled
    again = VideoSynthesis.cancel(blocker)
    assert again.status_code == HTTPStatus.BAD_REQUEST and again.code == "UnsupportedOperation"
    listing = VideoSynthesis.list(model_name="wan2.2-i2v-plus", page_size=50)
    assert listing.status_code == HTTPStatus.OK
    statuses = {row["task_id"]: row["status"] for row in listing.output["data"]}
    assert statuses[queued.output.task_id] == "CANCELED"


def test_sdk_uploads_a_local_file(sdk: Any, tmp_path: Path) -> None:
    """A file:// image goes through getPolicy, the form upload and oss:// to SUCCEEDED."""
    image = tmp_path / "first.png"
    image.write_bytes(make_png(400, 300))
    result = VideoSynthesis.call(model="wan2.6-i2v", prompt="a local cat", img_url=f"file://{image}")
    assert result.status_code == HTTPStatus.OK, result
    assert result.output.task_status == "SUCCEEDED"


def test_sdk_sees_real_error_codes(sdk: Any) -> None:
    """Refusals reach the SDK with the wire code and message."""
    unknown = VideoSynthesis.async_call(model="wan9", img_url="https://example.com/a.png")
    assert (unknown.status_code, unknown.code) == (400, "InvalidParameter")
    bad_key = VideoSynthesis.async_call(
        model="wan2.6-i2v-flash", img_url="https://example.com/a.png", api_key="sk-wrong"
    )
    assert (bad_key.status_code, bad_key.code) == (401, "InvalidApiKey")


def test_sdk_media_list_call_for_wan27_i2v_succeeds(sdk: Any) -> None:
    """VideoSynthesis.call(media=[first_frame, driving_audio]) goes out unchanged and succeeds."""
    result = VideoSynthesis.call(
        model="wan2.7-i2v",
        prompt="a cat sings",
        media=[
            {"type": "first_frame", "url": "https://example.com/cat.png"},
            {"type": "driving_audio", "url": "https://example.com/a.mp3"},
        ],
        resolution="720P",
        duration=4,
    )
    assert result.status_code == HTTPStatus.OK, result
    assert result.output.task_status == "SUCCEEDED"
    assert result.usage["output_video_duration"] == 4.0 and result.usage["SR"] == 720
    assert "actual_prompt" not in result.output
    seconds, _, _ = video_shape(_download(result.output.video_url))
    assert seconds == pytest.approx(4.0)


def test_sdk_kf2v_call_uses_the_image2video_path_and_succeeds(sdk: Any) -> None:
    """first_frame_url/last_frame_url on a kf2v model: the SDK switches to image2video."""
    result = VideoSynthesis.call(
        model="wan2.2-kf2v-flash",
        prompt="a door opens",
        first_frame_url="https://example.com/closed.png",
        last_frame_url="https://example.com/open.png",
    )
    assert result.status_code == HTTPStatus.OK, result
    assert result.output.task_status == "SUCCEEDED" and result.usage["SR"] == 720


def test_sdk_wan27_t2v_with_a_ratio_gets_a_portrait_video(sdk: Any) -> None:
    """ratio="9:16" on wan2.7-t2v: usage names the ratio and the video is portrait."""
    result = VideoSynthesis.call(model="wan2.7-t2v", prompt="a lighthouse at night", ratio="9:16", duration=3)
    assert result.status_code == HTTPStatus.OK, result
    assert result.output.task_status == "SUCCEEDED"
    assert result.usage["ratio"] == "9:16" and result.usage["fps"] == 30
    seconds, width, height = video_shape(_download(result.output.video_url))
    assert seconds == pytest.approx(3.0) and width * 16 == height * 9


def test_sim_serve_starts_fast_and_serves_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """`runner sim serve --port 0` prints its URL within 2 s, serves the SDK, stops on SIGTERM."""
    command = [sys.executable, "-m", "runner", "sim", "serve", "--port", "0",
               "--time-scale", "0.0005", "--seed", "9"]  # fmt: skip
    started = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v1")
        assert time.monotonic() - started < 2.0
        monkeypatch.setattr(dashscope, "base_http_api_url", url)
        result = VideoSynthesis.call(
            model="wan2.6-i2v-flash", img_url="https://example.com/a.png", api_key=_KEY
        )
        assert result.output.task_status == "SUCCEEDED"
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=10)
    assert returncode == 0
