"""Shared helpers for the simulator tests: an in-process client, request bodies, images."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from runner.simulator import ManualClock, SimConfig, Simulator, create_app

__all__ = [
    "AUTH",
    "BASE",
    "CREATE",
    "HEADERS",
    "KF2V",
    "SimHarness",
    "body",
    "open_sim",
]

BASE = "http://sim.local/api/v1"
CREATE = "/services/aigc/video-generation/video-synthesis"
KF2V = "/services/aigc/image2video/video-synthesis"
AUTH = {"Authorization": "Bearer sk-sim-local"}
HEADERS = {**AUTH, "X-DashScope-Async": "enable"}


def body(
    model: str = "wan2.6-i2v-flash",
    prompt: str | None = "a cat surfing",
    img_url: str = "https://example.com/cat.png",
    **parameters: Any,
) -> dict[str, Any]:
    """A create body for a first-frame model (kf2v models get first_frame_url)."""
    field = "first_frame_url" if "kf2v" in model else "img_url"
    return {"model": model, "input": {"prompt": prompt, field: img_url}, "parameters": parameters}


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


@asynccontextmanager
async def open_sim(config: SimConfig | None = None, **overrides: Any) -> AsyncIterator[SimHarness]:
    """An in-process simulator on a manual clock; `overrides` apply to the default profile."""
    config = (config or SimConfig.profile("default", seed=7)).replace(**overrides)
    clock = ManualClock()
    app = create_app(config, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield SimHarness(app, app.state.simulator, clock, client)
