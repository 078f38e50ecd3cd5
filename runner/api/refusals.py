"""How DashScope's refusals read: each failed answer becomes the ApiError subclass
(runner.core.errors) that says what to do about it (docs/dashscope-api.md, errors).

- TransientApiError: 429 (except an exhausted free tier), 408, 5xx: try the same request later,
  after Retry-After if the server sent one;
- AccountError: the key or the account cannot be used (401, access denied, arrears, the codes
  in _ACCOUNT_CODES whatever their status): the run stops;
- TaskRejectedError: any other 4xx concerns this task only.
"""

from __future__ import annotations

from typing import Any, Final

import httpx

from runner.core import AccountError, ApiError, TaskRejectedError, TransientApiError

__all__ = ["classify_error", "error_code", "error_request_id", "json_or_raise", "maybe_processed"]

#: codes that stop the whole run whatever their HTTP status (docs/dashscope-api.md)
_ACCOUNT_CODES: Final = frozenset(
    {
        "InvalidApiKey",
        "NOT AUTHORIZED",
        "Arrearage",
        "AllocationQuota.FreeTierOnly",
        "CommodityNotPurchased",
        "PrepaidBillOverdue",
        "PostpaidBillOverdue",
        "AccessDenied.Unpurchased",
        "Model.AccessDenied",
        "Workspace.AccessDenied",
        "WorkSpaceNotFound",
    }
)
#: 5xx statuses whose reply comes from a gateway, not from DashScope's own logic: a create
#: answered this way may still have been processed.
_GATEWAY_STATUSES: Final = frozenset({502, 504})


def json_or_raise(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON body of a successful answer, or the classified ApiError of a failed one."""
    if response.status_code == 200:
        try:
            data = response.json()
        except ValueError:
            raise TransientApiError(f"{what}: HTTP 200 with a body that is not JSON.") from None
        if isinstance(data, dict) and not data.get("code"):
            return data
        if not isinstance(data, dict):
            raise TransientApiError(f"{what}: HTTP 200 with an unexpected JSON body.")
    raise classify_error(response, what)


def classify_error(response: httpx.Response, what: str) -> ApiError:
    """Turn a refused request into the ApiError subclass that says what to do about it."""
    status = response.status_code
    body = _error_body(response) or {}
    code = _text(body.get("code"))
    message = _text(body.get("message")) or response.reason_phrase or "no message"
    request_id = _text(body.get("request_id"))
    detail = f"{what} failed: HTTP {status}" + (f" {code}" if code else "") + f": {message}"
    if request_id:
        detail += f" (request id {request_id})"
    kwargs: dict[str, Any] = {"status_code": status, "code": code, "request_id": request_id}
    if code in _ACCOUNT_CODES or status == 401 or (status == 403 and _is_access_denied(code)):
        return AccountError(detail + _account_hint(status, code), **kwargs)
    if status == 429:
        if code and code.startswith("Throttling.AllocationQuota") and "free" in message.lower():
            return AccountError(detail + _account_hint(status, code), **kwargs)
        return TransientApiError(detail, retry_after=_retry_after(response), **kwargs)
    if status == 408 or status >= 500:
        return TransientApiError(detail, retry_after=_retry_after(response), **kwargs)
    return TaskRejectedError(detail, **kwargs)


def maybe_processed(response: httpx.Response) -> bool:
    """A gateway 502/504, or a 5xx that is not a DashScope error: the create may have happened."""
    status = response.status_code
    return status in _GATEWAY_STATUSES or (status >= 500 and _error_body(response) is None)


def _is_access_denied(code: str | None) -> bool:
    return code is None or code.startswith("AccessDenied") or code.endswith("AccessDenied")


def _account_hint(status: int, code: str | None) -> str:
    if status == 401 or code == "InvalidApiKey":
        return (
            ". Check DASHSCOPE_API_KEY: keys are tied to one region, so use the endpoint of the "
            "region the key was created in."
        )
    if code in ("Arrearage", "PrepaidBillOverdue", "PostpaidBillOverdue"):
        return ". Top up or settle the Alibaba Cloud account, then run the same command again."
    return ". Check the account's access to this model in the Model Studio console, then run again."


def _error_body(response: httpx.Response) -> dict[str, Any] | None:
    """The DashScope error object of a response, or None if the body is not one."""
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict) and (data.get("code") or data.get("message")):
        return data
    return None


def _retry_after(response: httpx.Response) -> float | None:
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None


def error_code(response: httpx.Response) -> str | None:
    """The DashScope error code in a response's body, if it carries one."""
    return _text((_error_body(response) or {}).get("code"))


def error_request_id(response: httpx.Response) -> str | None:
    """The request id a response carries in its body (or `x-request-id` header), if any."""
    try:
        data = response.json()
    except ValueError:
        data = None
    found = _text(data.get("request_id")) if isinstance(data, dict) else None
    return found or _text(response.headers.get("x-request-id"))


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
