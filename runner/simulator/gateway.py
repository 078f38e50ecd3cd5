"""What every simulated request goes through: request id, injected faults, auth, counting.

An endpoint handler is an async function `(request, ctx) -> Response` that raises
ApiError to refuse. `gateway(sim, endpoint, handler)` wraps it into a Starlette endpoint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from runner.simulator.errors import ApiError, api_error_response
from runner.simulator.faults import Disconnect
from runner.simulator.state import THROTTLED, Simulator

__all__ = ["Context", "Handler", "error_reply", "gateway", "json_reply"]

_FAULT_ERRORS = {
    "403": ApiError(403, "AccessDenied", "Access denied."),  # a RAM user without this permission
    "500": ApiError(
        500,
        "InternalError",
        "An internal error has occured, please try again later or contact service support.",
    ),
    "503": ApiError(503, "ModelUnavailable", "Model is unavailable, please try again later."),
    "504": ApiError(504, "RequestTimeOut", "Request timed out, please try again later."),
    "429": ApiError(429, "Throttling.RateQuota", THROTTLED),
}


@dataclass
class Context:
    """Per-request facts a handler needs."""

    sim: Simulator
    request_id: str
    now: float
    base_url: str  # e.g. "http://sim.local/" — the host the request came in on
    lose_reply: bool = False  # set for create: process, then drop or 504 the reply


Handler = Callable[[Request, Context], Awaitable[Response | ASGIApp]]


def gateway(
    sim: Simulator, endpoint: str, handler: Handler, *, auth: bool = True, internal: bool = False
) -> Callable[[Request], Awaitable[Response | ASGIApp]]:
    """Wrap `handler` with request ids, faults, API-key checks and request counting.

    `internal` endpoints (/_sim) get neither faults nor a place in the request counts.
    """

    async def endpoint_fn(request: Request) -> Response | ASGIApp:
        request_id = sim.new_request_id()
        number = sim.next_number(endpoint)
        fault = None if internal else sim.faults.request_fault(endpoint, number, sim.now())
        if fault == "slow":
            sim.ledger_data.faults["slow"] += 1
            await sim.clock.sleep(sim.config.faults.slow_seconds)
            fault = None
        if fault == "drop":
            sim.ledger_data.faults["drop"] += 1
            sim.ledger_data.count_request(endpoint, 0, sim.now())
            return Disconnect(f"{endpoint} request {number}")
        ctx = Context(sim, request_id, sim.now(), str(request.base_url))
        ctx.lose_reply = fault == "lost_reply" and endpoint == "create"
        try:
            if fault in _FAULT_ERRORS:
                sim.ledger_data.faults[fault] += 1
                raise _FAULT_ERRORS[fault]
            if auth:
                sim.check_auth(request.headers.get("authorization"))
            response = await handler(request, ctx)
        except ApiError as error:
            response = error_reply(sim, error, request_id)
        if not internal:  # status 0: the connection was dropped
            status = getattr(response, "status_code", 0)
            sim.ledger_data.count_request(endpoint, status, ctx.now)
        return response

    return endpoint_fn


def error_reply(sim: Simulator, error: ApiError, request_id: str) -> Response:
    """The JSON error body, with the optional headers the config switches on."""
    headers = _headers(sim, request_id)
    if error.status == 429 and sim.config.retry_after_header:
        headers["retry-after"] = "1"
    return api_error_response(error, request_id, headers)


def json_reply(ctx: Context, body: dict[str, object], status: int = 200) -> Response:
    """A JSON success body with `request_id` first."""
    return JSONResponse(
        {"request_id": ctx.request_id, **body},
        status_code=status,
        headers=_headers(ctx.sim, ctx.request_id),
    )


def _headers(sim: Simulator, request_id: str) -> dict[str, str]:
    return {"x-request-id": request_id} if sim.config.request_id_header else {}
