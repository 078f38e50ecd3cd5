"""The DashScope HTTP client: one method per endpoint, every failure classified at this boundary.

It runs over an injected `httpx.AsyncClient` (the CLI builds it: a real network client,
or an ASGI transport into the in-process simulator) and is the only module that
imports httpx (with runner.api.refusals, which reads refusals). Failures leave it as exactly
one of (runner.core.errors):

- TransientApiError: 429, 5xx, timeouts, connection errors: the same request may succeed later;
- TaskRejectedError: a 4xx that concerns this task only (validation, content, cancel refused);
- AccountError: the key or the account cannot be used (401, 403, arrears, free tier exhausted);
- AmbiguousSubmitError: a create request that may have reached the server with its reply lost.

A create request is never retried here: only the scheduler, which journals the intent,
decides whether to send it again. The API key travels only in the Authorization header
of requests to the API base URL, never to the storage host of a video, never into a message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from runner.api.oss import UPLOAD_PATH, UploadPolicy, form_upload, parse_policy
from runner.api.refusals import classify_error, error_code, error_request_id, json_or_raise, maybe_processed
from runner.api.wire import (
    ListedTask,
    ListPage,
    ResolvedInputs,
    Submitted,
    TaskStatus,
    VideoStream,
    build_create_body,
    create_path,
    int_or,
    is_task_id,
    listed_task,
    needs_oss_resolve,
    opt_str,
)
from runner.core import (
    AccountError,
    AmbiguousSubmitError,
    DownloadError,
    ListRefusedError,
    TaskRejectedError,
    TaskSpec,
    TransientApiError,
)

log = logging.getLogger(__name__)

__all__ = ["WORKSPACE_HEADER", "DashScopeClient"]

WORKSPACE_HEADER: Final = "X-DashScope-WorkSpace"
OSS_RESOLVE_HEADER: Final = "X-DashScope-OssResourceResolve"


class DashScopeClient:
    """The task endpoints of the DashScope API over an injected httpx client.

    `http` must carry the API base URL (…/api/v1) as its `base_url`; paths here are relative.
    """

    def __init__(self, http: httpx.AsyncClient, api_key: str, *, workspace: str | None = None) -> None:
        self._http = http
        self._auth = {"Authorization": f"Bearer {api_key}"}
        if workspace is not None:  # a workspace named for a shared domain
            self._auth[WORKSPACE_HEADER] = workspace

    async def submit(self, spec: TaskSpec, inputs: ResolvedInputs) -> Submitted:
        """POST one create request; AmbiguousSubmitError when it may have landed unanswered."""
        body = json.dumps(build_create_body(spec, inputs), ensure_ascii=False).encode("utf-8")
        headers = {**self._auth, "Content-Type": "application/json", "X-DashScope-Async": "enable"}
        if needs_oss_resolve(inputs):
            headers[OSS_RESOLVE_HEADER] = "enable"
        what = f"Submitting task {spec.id!r}"
        try:
            response = await self._http.post(create_path(spec), content=body, headers=headers)
        except httpx.LocalProtocolError:
            raise _unsendable(what) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientApiError(f"{what} failed before the request was sent ({_name(exc)}).") from None
        except httpx.TransportError as exc:
            msg = (
                f"{what}: the request was sent but no answer arrived ({_name(exc)}); the task may "
                "exist on the server and will be looked up before anything is sent again."
            )
            raise AmbiguousSubmitError(msg) from None
        if maybe_processed(response):
            code = error_code(response)
            msg = (
                f"{what}: a gateway answered HTTP {response.status_code}"
                + (f" {code}" if code else "")
                + "; the task may exist on the server and will be looked up before anything is sent again."
            )
            raise AmbiguousSubmitError(
                msg, status_code=response.status_code, code=code, request_id=error_request_id(response)
            )
        if response.status_code != 200:
            raise classify_error(response, what)
        output = _created(response)
        if output is None or not is_task_id(str(output["task_id"])):
            msg = (
                f"{what}: HTTP 200 with an answer that carries no task id; the task may exist on the "
                "server and will be looked up before anything is sent again."
            )
            raise AmbiguousSubmitError(msg, status_code=200, request_id=error_request_id(response))
        return Submitted(
            task_id=str(output["task_id"]),
            request_id=error_request_id(response),
            status=str(output.get("task_status") or "PENDING"),
        )

    async def query(self, task_id: str) -> TaskStatus:
        """GET /tasks/{task_id}: the task's status (UNKNOWN for expired or foreign ids)."""
        _check_task_id(task_id)
        what = f"Querying DashScope task {task_id}"
        response = await self._request("GET", f"tasks/{task_id}", what)
        data = json_or_raise(response, what)
        output = data.get("output")
        if not isinstance(output, dict):
            raise TransientApiError(f"{what}: the answer has no `output` object.")
        usage = data.get("usage")
        return TaskStatus(
            task_id=str(output.get("task_id") or task_id),
            status=str(output.get("task_status") or "UNKNOWN"),
            request_id=opt_str(data.get("request_id")),
            submit_time=opt_str(output.get("submit_time")),
            scheduled_time=opt_str(output.get("scheduled_time")),
            end_time=opt_str(output.get("end_time")),
            video_url=opt_str(output.get("video_url")),
            usage=usage if isinstance(usage, dict) else None,
            orig_prompt=opt_str(output.get("orig_prompt")),
            actual_prompt=opt_str(output.get("actual_prompt")),
            code=opt_str(output.get("code")),
            message=opt_str(output.get("message")),
        )

    async def list_tasks(
        self,
        *,
        model: str | None = None,
        start: str | None = None,
        end: str | None = None,
        status: str | None = None,
        page_no: int = 1,
        page_size: int = 100,
    ) -> ListPage:
        """GET /tasks: one page of the account's tasks (`start`/`end` as YYYYMMDDhhmmss)."""
        params: dict[str, str | int] = {"page_no": page_no, "page_size": page_size}
        for name, value in (("model_name", model), ("start_time", start), ("end_time", end)):
            if value is not None:
                params[name] = value
        if status is not None:
            params["status"] = status
        what = "Listing DashScope tasks"
        response = await self._request("GET", "tasks", what, params=params)
        try:
            data = json_or_raise(response, what)
        except AccountError as error:
            if error.status_code != 403:
                raise
            msg = (
                f"{what} was refused (HTTP 403 {error.code or ''}): this key may not read the account's "
                "task list"
            )
            raise ListRefusedError(msg, status_code=403, code=error.code) from None
        rows = data.get("data") or []
        tasks = tuple(
            listed_task(row) for row in rows if isinstance(row, dict) and is_task_id(str(row.get("task_id")))
        )
        return ListPage(
            tasks=tasks,
            page_no=int_or(data.get("page_no"), page_no),
            total_page=int_or(data.get("total_page"), 1),
            total=int_or(data.get("total"), len(tasks)),
        )

    async def iter_tasks(self, **filters: Any) -> AsyncIterator[ListedTask]:
        """Every task of the list, paging until the last page (`filters` as in `list_tasks`)."""
        page_no = 1
        while True:
            page = await self.list_tasks(page_no=page_no, **filters)
            for task in page.tasks:
                yield task
            if page_no >= page.total_page or not page.tasks:
                return
            page_no += 1

    async def cancel(self, task_id: str) -> None:
        """POST /tasks/{id}/cancel; TaskRejectedError(code UnsupportedOperation) unless PENDING."""
        _check_task_id(task_id)
        what = f"Cancelling DashScope task {task_id}"
        response = await self._request("POST", f"tasks/{task_id}/cancel", what)
        json_or_raise(response, what)

    async def get_upload_policy(self, model: str) -> UploadPolicy:
        """GET uploads?action=getPolicy&model=M: a credential to upload files for `model`."""
        what = f"Getting an upload credential for {model}"
        params = {"action": "getPolicy", "model": model}
        response = await self._request("GET", UPLOAD_PATH, what, params=params)
        return parse_policy(model, json_or_raise(response, what).get("data"))

    async def upload_file(self, policy: UploadPolicy, data: bytes, name: str, mime: str) -> str:
        """Upload `data` (bytes already checked against the plan's hash) as `name`; its oss:// URL.

        The form goes to the credential's storage host without the API key (runner.api.oss).
        """
        return await form_upload(self._http, policy, data, name, mime)

    @asynccontextmanager
    async def stream_download(self, url: str, start: int = 0) -> AsyncIterator[VideoStream]:
        """Open a video URL, from byte `start` on (a Range request) when that is not 0.

        The stream's `offset` says where its bytes begin: `start` when the storage host honoured
        the range, 0 when it sent the whole video again. No Authorization header goes to the
        storage host. 403/404 mean the signed URL expired (DownloadError(expired=True));
        anything else that goes wrong is a retryable DownloadError.
        """
        where = _safe_url(url)
        if urlsplit(url).scheme not in ("http", "https"):
            msg = f"The video URL {where!r} is not an http(s) URL; runner does not follow it."
            raise DownloadError(msg, refused=True)
        headers = {"Range": f"bytes={start}-"} if start else None
        try:
            async with self._http.stream("GET", url, headers=headers) as response:
                if response.status_code in (403, 404):
                    msg = f"The video URL {where} answered HTTP {response.status_code}: it has expired."
                    raise DownloadError(msg, expired=True)
                if response.status_code == 416:
                    msg = f"Resuming {where} at byte {start} failed: the server says the video is shorter."
                    raise DownloadError(msg, restart=True)
                if response.status_code == 206 and start:
                    offset, size = _content_range(response, where, start)
                elif response.status_code == 200:
                    offset, size = 0, _content_length(response)
                else:
                    msg = f"Downloading {where} failed with HTTP {response.status_code}."
                    raise DownloadError(msg)
                yield VideoStream(offset, size, _chunks(response, where))
        except httpx.HTTPError as exc:
            raise DownloadError(f"Downloading {where} failed ({_name(exc)}).") from None

    async def _request(
        self, method: str, path: str, what: str, *, params: Mapping[str, str | int] | None = None
    ) -> httpx.Response:
        """Send an idempotent request (query, list, cancel); transport failures are transient."""
        try:
            return await self._http.request(method, path, params=params, headers=self._auth)
        except httpx.LocalProtocolError:
            raise _unsendable(what) from None
        except httpx.TransportError as exc:
            raise TransientApiError(f"{what} failed ({_name(exc)}); it will be tried again.") from None


async def _chunks(response: httpx.Response, where: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():  # as received: re-chunking would copy every byte
            yield chunk
    except httpx.HTTPError as exc:
        raise DownloadError(f"Downloading {where} broke off ({_name(exc)}).") from None


def _check_task_id(task_id: str) -> None:
    if not is_task_id(task_id):
        raise TaskRejectedError(f"{task_id!r} is not a DashScope task id; it is not sent anywhere.")


def _unsendable(what: str) -> AccountError:
    """httpx refused to send the request (an illegal header: the key, which its message would
    quote): nothing reached the server, and no request with this key ever will."""
    msg = (
        f"{what} failed before anything was sent: the request's headers are not valid HTTP, which "
        "means the API key contains a character a key cannot have. Check DASHSCOPE_API_KEY or "
        "the key file: the key alone, on one line."
    )
    return AccountError(msg)


def _created(response: httpx.Response) -> dict[str, Any] | None:
    """The `output` of a create's 200 answer, or None when the body does not read as one: the
    server may have created the task all the same, so the caller treats it as ambiguous."""
    try:
        data = response.json()
    except ValueError:
        return None
    output = data.get("output") if isinstance(data, dict) else None
    if not isinstance(output, dict) or not output.get("task_id") or data.get("code"):
        return None
    return output


def _content_range(response: httpx.Response, where: str, start: int) -> tuple[int, int | None]:
    """(offset, whole size) from a 206's `Content-Range: bytes a-b/total`; DownloadError unless a == start."""
    value = response.headers.get("content-range", "")
    unit, _, rest = value.partition(" ")
    first, _, total = rest.partition("/")
    begin = first.partition("-")[0]
    if unit != "bytes" or not begin.isdigit() or int(begin) != start:
        msg = f"Resuming {where} at byte {start} failed: the server sent Content-Range {value!r}."
        raise DownloadError(msg, restart=True)
    return start, int(total) if total.isdigit() else None


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _safe_url(url: str) -> str:
    """The URL without its query string: signed URLs carry credentials-like signatures."""
    return url.split("?", 1)[0]


def _name(exc: BaseException) -> str:
    text = str(exc)
    return type(exc).__name__ + (f": {text}" if text else "")
