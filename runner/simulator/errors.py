"""The wire's error shapes: JSON API errors and OSS-style storage errors."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from starlette.responses import JSONResponse, Response

__all__ = [
    "BODY_INVALID",
    "ApiError",
    "ParameterProblem",
    "Problem",
    "api_error_response",
    "invalid",
    "missing",
    "oss_error_response",
    "refusal",
]

BODY_INVALID = "Required body invalid, please check the request body format."


@dataclass(frozen=True)
class Problem:
    """Why a request or its input is unusable, in the wire's terms (code, message, status)."""

    code: str
    message: str
    status: int = 400


class ApiError(Exception):
    """A request the simulated service refuses, rendered as `{request_id, code, message}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ParameterProblem(Exception):
    """A parameter-value problem: refused at submission or failing the task (`validation_at`)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def missing(field: str) -> Problem:
    """The service's message for a required field that is absent or unusable."""
    return Problem(
        "InvalidParameter",
        f"Required parameter({field}) missing or invalid, please check the request parameters.",
    )


def invalid(field: str, value: object, rule: str) -> Problem:
    """`missing`'s message plus what was received and what the model allows."""
    return Problem(
        "InvalidParameter",
        f"Required parameter({field}) missing or invalid, please check the request parameters. "
        f"Got {value!r}; {rule}.",
    )


def refusal(problem: Problem) -> ApiError:
    """A problem refused at submission."""
    return ApiError(problem.status, problem.code, problem.message)


def api_error_response(error: ApiError, request_id: str, headers: dict[str, str] | None = None) -> Response:
    """The JSON body DashScope returns for a refused request."""
    body = {"request_id": request_id, "code": error.code, "message": error.message}
    return JSONResponse(body, status_code=error.status, headers=headers)


def oss_error_response(
    status: int, code: str, message: str, request_id: str, fmt: str, extra: dict[str, str]
) -> Response:
    """An object-storage error: XML like OSS by default, or JSON if configured."""
    if fmt == "json":
        body = {"Code": code, "Message": message, "RequestId": request_id, **extra}
        return JSONResponse(body, status_code=status)
    fields = {"Code": code, "Message": message, "RequestId": request_id, **extra}
    inner = "".join(f"  <{k}>{escape(v)}</{k}>\n" for k, v in fields.items())
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n{inner}</Error>\n'
    return Response(xml, status_code=status, media_type="application/xml")
