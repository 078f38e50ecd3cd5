"""Handlers for the DashScope API paths: create, query, cancel, list, getPolicy, and /_sim."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp

from runner.simulator.errors import BODY_INVALID, ApiError
from runner.simulator.faults import Disconnect
from runner.simulator.gateway import Context, Handler, json_reply
from runner.simulator.views import list_body, query_output

__all__ = [
    "cancel_task",
    "create_handler",
    "get_policy",
    "get_task",
    "list_tasks",
    "sim_ledger",
    "sim_reset",
]

_TOO_LARGE = ApiError(413, "BadRequest.TooLarge", "Payload Too Large.")


def create_handler(segment: str) -> Handler:
    """The create handler for one path segment (video-generation or image2video)."""

    async def create(request: Request, ctx: Context) -> Response | ASGIApp:
        if request.headers.get("x-dashscope-async", "").lower() != "enable":
            raise ApiError(403, "AccessDenied", "current user api does not support synchronous calls.")
        body = await _read_json(request, ctx)
        oss = request.headers.get("x-dashscope-ossresourceresolve", "").lower() == "enable"
        task = ctx.sim.create(body, segment, oss, ctx.request_id)
        if ctx.lose_reply:
            task.reply_lost = True
            ctx.sim.ledger_data.faults["lost_reply"] += 1
            mode = ctx.sim.config.faults.lost_reply_mode
            if mode == "504":
                raise ApiError(504, "RequestTimeOut", "Request timed out, please try again later.")
            if mode == "garbled":
                return HTMLResponse("<html><body>Service temporarily busy</body></html>")
            return Disconnect(f"reply to create of {task.task_id} lost")
        return json_reply(ctx, {"output": {"task_id": task.task_id, "task_status": "PENDING"}})

    return create


async def _read_json(request: Request, ctx: Context) -> Any:
    """Read the body within the size caps and parse it; refuse like the real service."""
    config = ctx.sim.config
    cap = config.max_body_bytes + config.data_url_max_bytes
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise _TOO_LARGE
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "InvalidParameter", BODY_INVALID) from None
    raw = b"".join(chunks)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidParameter", BODY_INVALID) from None
    if size - _data_url_bytes(body) > config.max_body_bytes:
        raise _TOO_LARGE
    return body


def _data_url_bytes(body: Any) -> int:
    """Total length of the data: URIs in a body's input (they have their own cap): its own
    fields, the reference_urls list and each media item's url."""
    inputs = body.get("input") if isinstance(body, dict) else None
    if not isinstance(inputs, dict):
        return 0
    values = list(inputs.values())
    for nested in (inputs.get("reference_urls"), inputs.get("media")):
        if isinstance(nested, list):
            values += [v.get("url") if isinstance(v, dict) else v for v in nested]
    return sum(len(v) for v in values if isinstance(v, str) and v.startswith("data:"))


async def get_task(request: Request, ctx: Context) -> Response:
    """GET /tasks/{task_id}: status, times, result; UNKNOWN for unknown or expired ids."""
    ctx.sim.take_task_token("query", ctx.now)
    task_id = request.path_params["task_id"]
    task = ctx.sim.find(task_id, ctx.now)
    if task is None:
        return json_reply(ctx, {"output": {"task_id": task_id, "task_status": "UNKNOWN"}})
    return json_reply(ctx, query_output(ctx.sim, task, ctx.now, ctx.base_url))


async def cancel_task(request: Request, ctx: Context) -> Response:
    """POST /tasks/{task_id}/cancel: only PENDING tasks can be canceled."""
    ctx.sim.take_task_token("cancel", ctx.now)
    ctx.sim.cancel(request.path_params["task_id"])
    return json_reply(ctx, {})


async def list_tasks(request: Request, ctx: Context) -> Response:
    """GET /tasks (with or without the trailing slash): filtered, paged task list."""
    ctx.sim.take_task_token("list", ctx.now)
    return json_reply(ctx, list_body(ctx.sim, dict(request.query_params), ctx.now))


async def get_policy(request: Request, ctx: Context) -> Response:
    """GET /uploads?action=getPolicy&model=M: a temporary-storage upload credential."""
    params = request.query_params
    model = params.get("model", "")
    if params.get("action") != "getPolicy":
        raise ApiError(400, "InvalidParameter", "Required parameter(action) missing or invalid.")
    if model not in ctx.sim.models:
        raise ApiError(400, "InvalidParameter", "Model not exist.")
    if not ctx.sim.rates.try_take(f"uploads:{model}", ctx.sim.config.upload_policy_rate, None, ctx.now):
        raise ApiError(429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.")
    host = f"{ctx.base_url}_oss/upload"
    return json_reply(ctx, {"data": ctx.sim.uploads.policy(model, host, ctx.now)})


async def sim_ledger(request: Request, ctx: Context) -> Response:
    """GET /_sim/ledger: the simulator's record of everything (not a DashScope path)."""
    return json_reply(ctx, ctx.sim.ledger())


async def sim_reset(request: Request, ctx: Context) -> Response:
    """POST /_sim/reset: forget all tasks, uploads, quotas and counters."""
    ctx.sim.reset()
    return json_reply(ctx, {})
