"""The ASGI application factory: routes, error handlers, and the simulator on `app.state`."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runner.simulator import api_routes, oss_routes
from runner.simulator.clock import Clock
from runner.simulator.config import SimConfig
from runner.simulator.gateway import gateway
from runner.simulator.memory import TaskMemory
from runner.simulator.state import Simulator

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"
_CREATE = API_PREFIX + "/services/aigc/{segment}/video-synthesis"


def create_app(
    config: SimConfig | None = None, *, clock: Clock | None = None, memory: TaskMemory | None = None
) -> Starlette:
    """Build the simulator app; its state is `app.state.simulator` (a `Simulator`). `memory`
    keeps its tasks for a later process's simulator, which takes them up (runner.simulator.memory)."""
    sim = Simulator(config or SimConfig(), clock, memory)

    def route(path: str, endpoint: str, handler: Any, method: str, **kw: Any) -> Route:
        return Route(path, gateway(sim, endpoint, handler, **kw), methods=[method])

    routes = [
        route(_CREATE.format(segment="video-generation"), "create",
              api_routes.create_handler("video-generation"), "POST"),
        route(_CREATE.format(segment="image2video"), "create",
              api_routes.create_handler("image2video"), "POST"),
        route(API_PREFIX + "/tasks/{task_id}/cancel", "cancel", api_routes.cancel_task, "POST"),
        route(API_PREFIX + "/tasks", "list", api_routes.list_tasks, "GET"),
        route(API_PREFIX + "/tasks/", "list", api_routes.list_tasks, "GET"),
        route(API_PREFIX + "/tasks/{task_id}", "query", api_routes.get_task, "GET"),
        route(API_PREFIX + "/uploads", "upload_policy", api_routes.get_policy, "GET"),
        route("/_oss/upload", "upload", oss_routes.upload_form, "POST", auth=False),
        route("/_oss/videos/{name}", "download", oss_routes.download_video, "GET", auth=False),
        route("/_sim/ledger", "sim", api_routes.sim_ledger, "GET", internal=True),
        route("/_sim/reset", "sim", api_routes.sim_reset, "POST", internal=True),
    ]  # fmt: skip
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.state.simulator = sim
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """404/405 from routing, in the API's JSON error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    code = {404: "NotFound", 405: "MethodNotAllowed"}.get(status, "InvalidParameter")
    message = {404: "url error, please check url！"}.get(status, str(getattr(exc, "detail", "")))
    body = {"request_id": request.app.state.simulator.new_request_id(), "code": code, "message": message}
    return JSONResponse(body, status_code=status)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A bug in the simulator still answers in the API's shape, never with a traceback."""
    body = {
        "request_id": request.app.state.simulator.new_request_id(),
        "code": "InternalError",
        "message": f"The simulator failed unexpectedly ({type(exc).__name__}).",
    }
    return JSONResponse(body, status_code=500)
