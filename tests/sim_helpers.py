"""Shared helpers for the simulator tests: an in-process client, request bodies, media."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import av
import httpx
from data.media_fixtures import png
from starlette.applications import Starlette

from runner.simulator import ManualClock, SimConfig, Simulator, create_app
from runner.simulator.scenes import Scene
from runner.simulator.video import CLIP_FPS, clip_bytes

__all__ = [
    "AUTH",
    "BASE",
    "CREATE",
    "HEADERS",
    "KF2V",
    "OSS_HEADERS",
    "SimHarness",
    "body",
    "media_body",
    "mp4",
    "open_sim",
    "png_url",
    "text_body",
    "video_shape",
]

BASE = "http://sim.local/api/v1"
CREATE = "/services/aigc/video-generation/video-synthesis"
KF2V = "/services/aigc/image2video/video-synthesis"
AUTH = {"Authorization": "Bearer sk-sim-local"}
HEADERS = {**AUTH, "X-DashScope-Async": "enable"}
OSS_HEADERS = {**HEADERS, "X-DashScope-OssResourceResolve": "enable"}


def body(
    model: str = "wan2.6-i2v-flash",
    prompt: str | None = "a cat surfing",
    img_url: str = "https://example.com/cat.png",
    **parameters: Any,
) -> dict[str, Any]:
    """A create body for a first-frame model (kf2v models get first_frame_url)."""
    field = "first_frame_url" if "kf2v" in model else "img_url"
    return {"model": model, "input": {"prompt": prompt, field: img_url}, "parameters": parameters}


def media_body(
    model: str, media: list[dict[str, str]] | None, prompt: str | None = "a cat surfing", **parameters: Any
) -> dict[str, Any]:
    """A create body for a media-list model (wan2.7, wan3.0, HappyHorse i2v); None: no media key."""
    inputs: dict[str, Any] = {"prompt": prompt}
    if media is not None:
        inputs["media"] = media
    return {"model": model, "input": inputs, "parameters": parameters}


def text_body(model: str, prompt: str | None = "a cat surfing", **parameters: Any) -> dict[str, Any]:
    """A create body with only a prompt (text-to-video)."""
    return {"model": model, "input": {"prompt": prompt}, "parameters": parameters}


def png_url(width: int = 320, height: int = 240) -> str:
    """A PNG of that size as a data: URL (the simulator reads its size)."""
    return "data:image/png;base64," + base64.b64encode(png(width, height)).decode()


def mp4(seconds: float, width: int = 160, height: int = 90) -> bytes:
    """A real H.264 MP4 of that length and size (a gradient, no caption)."""
    return clip_bytes(Scene(width, height, round(seconds * CLIP_FPS)))


def video_shape(data: bytes) -> tuple[float, int, int]:
    """(seconds, width, height) of an MP4, read with PyAV."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        assert container.duration is not None
        return container.duration / av.time_base, stream.codec_context.width, stream.codec_context.height


@dataclass
class SimHarness:
    """An app, its simulator, its manual clock and an httpx client bound to it."""

    app: Starlette
    sim: Simulator
    clock: ManualClock
    client: httpx.AsyncClient

    async def submit(self, payload: dict[str, Any], path: str = CREATE) -> httpx.Response:
        """POST a create request with the right headers."""
        return await self.client.post(path, json=payload, headers=HEADERS)

    async def submit_id(self, payload: dict[str, Any] | None = None, path: str = CREATE) -> str:
        """Submit and return the task id, asserting acceptance."""
        response = await self.submit(payload or body(), path)
        assert response.status_code == 200, response.text
        return str(response.json()["output"]["task_id"])

    async def query(self, task_id: str) -> dict[str, Any]:
        """GET the task and return the whole body (asserting HTTP 200)."""
        response = await self.client.get(f"/tasks/{task_id}", headers=AUTH)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def status(self, task_id: str) -> str:
        """The task's current status."""
        return str((await self.query(task_id))["output"]["task_status"])

    async def finished(self, task_id: str) -> dict[str, Any]:
        """The task's body after two simulated hours (every default task is over by then)."""
        self.clock.advance(7200)
        return await self.query(task_id)

    async def download(self, video_url: str) -> bytes:
        """The bytes behind a video_url."""
        response = await self.client.get(video_url)
        assert response.status_code == 200, response.text
        return response.content

    async def upload(self, model: str, data: bytes, name: str) -> str:
        """Upload a file to the temporary storage like the SDK does; return its oss:// URL."""
        status, url = await self.upload_form(model, data, name)
        assert status == 200, status
        return url

    async def upload_form(
        self, model: str, data: bytes, name: str, mime: str = "", **changes: str
    ) -> tuple[int, str]:
        """The SDK's upload, its form fields overridden by `changes`: (HTTP status, oss:// URL)."""
        policy = (await self.client.get(f"/uploads?action=getPolicy&model={model}", headers=AUTH)).json()[
            "data"
        ]
        key = f"{policy['upload_dir']}/{name}"
        fields = {
            "OSSAccessKeyId": policy["oss_access_key_id"],
            "Signature": policy["signature"],
            "policy": policy["policy"],
            "key": key,
            "x-oss-object-acl": policy["x_oss_object_acl"],
            "x-oss-forbid-overwrite": policy["x_oss_forbid_overwrite"],
            "success_action_status": "200",
            **changes,
        }
        files = {"file": (name, data, mime)} if mime else {"file": (name, data)}
        response = await self.client.post(policy["upload_host"], data=fields, files=files)
        return response.status_code, f"oss://{key}"


@asynccontextmanager
async def open_sim(config: SimConfig | None = None, **overrides: Any) -> AsyncIterator[SimHarness]:
    """An in-process simulator on a manual clock; `overrides` apply to the default profile."""
    config = (config or SimConfig.profile("default", seed=7)).replace(**overrides)
    clock = ManualClock()
    app = create_app(config, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield SimHarness(app, app.state.simulator, clock, client)
