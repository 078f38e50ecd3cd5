"""The DashScope client: wire format and the classification of every failure."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from factories import spec

from runner.api.client import DashScopeClient
from runner.api.wire import ResolvedInputs
from runner.core.errors import (
    AccountError,
    AmbiguousSubmitError,
    DownloadError,
    TaskRejectedError,
    TransientApiError,
)
from runner.core.tasks import MediaRef, TaskSpec

KEY = "sk-test-secret-0123456789"
BASE = "https://dashscope.example/api/v1"

Handler = Callable[[httpx.Request], httpx.Response]


def make_spec(**overrides: Any) -> TaskSpec:
    return spec("cat", "a cat", image=MediaRef(kind="image", url="https://img.example/cat.png"), **overrides)


def make_client(handler: Handler) -> DashScopeClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=BASE)
    return DashScopeClient(http, KEY)


def reply(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


INPUTS = ResolvedInputs.first_frame("https://img.example/cat.png")


@pytest.mark.anyio
async def test_submit_sends_the_documented_request() -> None:
    """Create is a POST with the async header, bearer key and the model/input/parameters body."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply(200, {"request_id": "r1", "output": {"task_id": "t1", "task_status": "PENDING"}})

    submitted = await make_client(handler).submit(make_spec(negative_prompt="blur"), INPUTS)
    assert (submitted.task_id, submitted.request_id, submitted.status) == ("t1", "r1", "PENDING")
    request = seen[0]
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/services/aigc/video-generation/video-synthesis"
    assert request.headers["X-DashScope-Async"] == "enable"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "model": "wan2.6-i2v-flash",
        "input": {"img_url": "https://img.example/cat.png", "prompt": "a cat", "negative_prompt": "blur"},
        "parameters": {"resolution": "720P", "duration": 5},
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, "Throttling.RateQuota", TransientApiError),
        (500, "InternalError", TransientApiError),
        (503, "ModelUnavailable", TransientApiError),
        (400, "InvalidParameter", TaskRejectedError),
        (400, "DataInspectionFailed", TaskRejectedError),
        (401, "InvalidApiKey", AccountError),
        (403, "AccessDenied", AccountError),
        (403, "AllocationQuota.FreeTierOnly", AccountError),
        (400, "Arrearage", AccountError),
        (429, "PrepaidBillOverdue", AccountError),
        (502, "BadGateway", AmbiguousSubmitError),
        (504, "GatewayTimeout", AmbiguousSubmitError),
    ],
)
async def test_submit_classifies_refusals(status: int, code: str, expected: type[Exception]) -> None:
    """Each documented refusal becomes the error class that says what the scheduler must do."""

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(status, {"request_id": "r", "code": code, "message": "nope"})

    with pytest.raises(expected) as info:
        await make_client(handler).submit(make_spec(), INPUTS)
    assert KEY not in str(info.value)
    assert code in str(info.value)


@pytest.mark.anyio
async def test_submit_5xx_without_json_is_ambiguous() -> None:
    """A 500 whose body is not a DashScope error may come from a proxy after processing."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="<html>oops</html>")

    with pytest.raises(AmbiguousSubmitError):
        await make_client(handler).submit(make_spec(), INPUTS)


@pytest.mark.anyio
async def test_submit_429_carries_retry_after() -> None:
    """A Retry-After header on a 429 reaches the scheduler as seconds."""

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(429, {"code": "Throttling.RateQuota", "message": "slow down"}, **{"Retry-After": "2"})

    with pytest.raises(TransientApiError) as info:
        await make_client(handler).submit(make_spec(), INPUTS)
    assert info.value.retry_after == 2.0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), TransientApiError),
        (httpx.ConnectTimeout("slow connect"), TransientApiError),
        (httpx.ReadTimeout("no answer"), AmbiguousSubmitError),
        (httpx.RemoteProtocolError("server disconnected"), AmbiguousSubmitError),
        (httpx.ReadError("connection reset"), AmbiguousSubmitError),
    ],
)
async def test_submit_transport_failures(exc: Exception, expected: type[Exception]) -> None:
    """A failure before sending is transient; after sending, the create is ambiguous."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(expected):
        await make_client(handler).submit(make_spec(), INPUTS)


@pytest.mark.anyio
async def test_query_parses_a_succeeded_task() -> None:
    """A SUCCEEDED body yields times, URL, usage and prompts."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/tasks/t1"
        assert "X-DashScope-Async" not in request.headers
        return reply(
            200,
            {
                "request_id": "r2",
                "output": {
                    "task_id": "t1",
                    "task_status": "SUCCEEDED",
                    "submit_time": "2026-01-22 23:24:46.527",
                    "scheduled_time": "2026-01-22 23:24:46.565",
                    "end_time": "2026-01-22 23:25:46.000",
                    "orig_prompt": "a cat",
                    "video_url": "https://oss.example/t1.mp4?Expires=1&Signature=x",
                },
                "usage": {"duration": 5, "SR": 720, "video_count": 1},
            },
        )

    status = await make_client(handler).query("t1")
    assert status.status == "SUCCEEDED"
    assert status.end_time == "2026-01-22 23:25:46.000"
    assert status.usage == {"duration": 5, "SR": 720, "video_count": 1}
    assert status.orig_prompt == "a cat"
    assert status.video_url is not None


@pytest.mark.anyio
async def test_query_failed_task_carries_code() -> None:
    """A task-level failure arrives with HTTP 200 and output.code/message."""

    def handler(request: httpx.Request) -> httpx.Response:
        output = {"task_id": "t1", "task_status": "FAILED", "code": "DataInspectionFailed", "message": "no"}
        return reply(200, {"request_id": "r", "output": output})

    status = await make_client(handler).query("t1")
    assert (status.status, status.code, status.message) == ("FAILED", "DataInspectionFailed", "no")


@pytest.mark.anyio
@pytest.mark.parametrize("exc", [httpx.ReadTimeout("t"), httpx.RemoteProtocolError("p")])
async def test_query_transport_failures_are_transient(exc: Exception) -> None:
    """A poll that loses its answer is simply retried later: never ambiguous."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(TransientApiError):
        await make_client(handler).query("t1")


@pytest.mark.anyio
async def test_list_pages_through_everything() -> None:
    """iter_tasks follows page_no until total_page, with the filters on every request."""
    pages = {
        "1": [{"task_id": "a", "status": "RUNNING", "model_name": "m", "gmt_create": 1000}],
        "2": [{"task_id": "b", "status": "SUCCEEDED", "model_name": "m", "gmt_create": 2000}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["model_name"] == "m"
        assert request.url.params["start_time"] == "20260101000000"
        page = request.url.params["page_no"]
        body = {"request_id": "r", "total": 2, "total_page": 2, "page_no": int(page), "data": pages[page]}
        return reply(200, body)

    client = make_client(handler)
    found = [t async for t in client.iter_tasks(model="m", start="20260101000000", end="20260101010000")]
    assert [(t.task_id, t.status, t.gmt_create_ms) for t in found] == [
        ("a", "RUNNING", 1000),
        ("b", "SUCCEEDED", 2000),
    ]


@pytest.mark.anyio
async def test_cancel_of_running_task_is_rejected() -> None:
    """Cancel answers 400 UnsupportedOperation unless the task is PENDING."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.url.path == "/api/v1/tasks/t1/cancel"
        return reply(400, {"code": "UnsupportedOperation", "message": "not pending"})

    with pytest.raises(TaskRejectedError) as info:
        await make_client(handler).cancel("t1")
    assert info.value.code == "UnsupportedOperation"


@pytest.mark.anyio
async def test_download_streams_without_the_api_key() -> None:
    """The storage host gets no Authorization header; chunks and length come through."""
    body = b"\x00\x00\x00\x18ftypmp42" + b"x" * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        assert "Authorization" not in request.headers
        return httpx.Response(200, content=body)

    client = make_client(handler)
    async with client.stream_download("https://oss.example/t1.mp4?Signature=s") as stream:
        data = b"".join([chunk async for chunk in stream.chunks])
    assert (stream.offset, stream.size) == (0, len(body))
    assert data == body


@pytest.mark.anyio
async def test_download_goes_through_the_transport_mounted_for_its_host() -> None:
    """A proxy for the storage host (HTTPS_PROXY becomes such a mount) carries the download."""
    body = b"\x00\x00\x00\x18ftypmp42" + b"y" * 100

    def api(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the download went to the API's transport: {request.url}")

    def storage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    mounts = {"https://oss.example": httpx.MockTransport(storage)}
    http = httpx.AsyncClient(transport=httpx.MockTransport(api), mounts=mounts, base_url=BASE)
    async with DashScopeClient(http, KEY).stream_download("https://oss.example/t1.mp4") as stream:
        assert b"".join([chunk async for chunk in stream.chunks]) == body


@pytest.mark.anyio
async def test_a_video_download_carries_no_api_key() -> None:
    """A video GET goes to the storage host through httpx's public streaming API, without the
    Authorization header the API calls carry."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\x00\x00\x00\x18ftypmp42")

    async with make_client(handler).stream_download("https://oss.example/t1.mp4") as stream:
        assert [chunk async for chunk in stream.chunks]
    assert [request.url.host for request in seen] == ["oss.example"]
    assert "authorization" not in seen[0].headers


@pytest.mark.anyio
async def test_download_403_means_expired() -> None:
    """An expired signed URL (403) is reported as DownloadError(expired=True), without the query."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>")

    with pytest.raises(DownloadError) as info:
        async with make_client(handler).stream_download("https://oss.example/t.mp4?Signature=s"):
            pass
    assert info.value.expired
    assert "Signature" not in str(info.value)


@pytest.mark.anyio
async def test_download_reset_is_a_retryable_download_error() -> None:
    """A connection reset while downloading is a DownloadError that is neither expired nor disk-full."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("reset")

    with pytest.raises(DownloadError) as info:
        async with make_client(handler).stream_download("https://oss.example/t.mp4"):
            pass
    assert not info.value.expired
    assert not info.value.disk_full


@pytest.mark.anyio
@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>Service temporarily busy</html>"),
        httpx.Response(200, json={"request_id": "r9", "output": {}}),
    ],
    ids=["not-json", "no-task-id"],
)
async def test_a_200_create_answer_that_does_not_read_as_a_task_is_ambiguous(answer: httpx.Response) -> None:
    """Whatever may have reached DashScope is looked up, never resent blindly: a 200 whose body
    is not a create answer is ambiguous, not a refusal."""
    client = make_client(lambda request: answer)
    with pytest.raises(AmbiguousSubmitError):
        await client.submit(make_spec(), INPUTS)


@pytest.mark.anyio
async def test_a_gateway_504_keeps_the_request_id_it_carries() -> None:
    """A lost answer that names its request gives reconciliation decisive evidence."""
    client = make_client(lambda request: reply(504, {"request_id": "req-7", "code": "RequestTimeOut"}))
    with pytest.raises(AmbiguousSubmitError) as caught:
        await client.submit(make_spec(), INPUTS)
    assert caught.value.request_id == "req-7"
