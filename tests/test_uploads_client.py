"""The client's upload calls and the resolve header, checked on the wire with httpx.MockTransport."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest
from factories import spec

from runner.api.client import DashScopeClient
from runner.api.oss import POLICY_EXPIRED, UploadPolicy, parse_policy
from runner.api.wire import ResolvedInputs
from runner.core.errors import AccountError, TaskRejectedError, TransientApiError

pytestmark = pytest.mark.anyio

KEY = "sk-test-secret-key"
STORAGE = "https://bucket.oss.example/"
POLICY_DATA = {
    "policy": "eyJwb2xpY3kiOjF9",
    "signature": "c2lnbmF0dXJl",
    "upload_dir": "dashscope-instant/abc/2026-11-25/xyz",
    "upload_host": STORAGE,
    "expire_in_seconds": "300",
    "max_file_size_mb": 100,
    "capacity_limit_mb": 999999999,
    "oss_access_key_id": "LTAIkey",
    "x_oss_object_acl": "private",
    "x_oss_forbid_overwrite": "true",
}


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[DashScopeClient, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="https://api.example/api/v1/")
    return DashScopeClient(http, KEY), http


def _created(seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"request_id": "r", "output": {"task_id": "t1", "task_status": "PENDING"}}
        )

    return handler


@pytest.mark.parametrize(
    ("img_url", "audio_url", "expected"),
    [
        ("data:image/png;base64,iVBORw0KGgo=", None, False),
        ("https://img.example/a.png", "https://snd.example/a.mp3", False),
        ("oss://dashscope-instant/x/a.png", None, True),
        ("data:image/png;base64,iVBORw0KGgo=", "oss://dashscope-instant/x/a.wav", True),
    ],
)
async def test_resolve_header_is_sent_exactly_when_the_body_has_an_oss_url(
    img_url: str, audio_url: str | None, expected: bool
) -> None:
    """X-DashScope-OssResourceResolve: enable goes with a create iff an oss:// URL is in the body."""
    seen: list[httpx.Request] = []
    client, http = _client(_created(seen))
    async with http:
        await client.submit(spec("a"), ResolvedInputs.first_frame(img_url, audio_url))
    body = json.loads(seen[0].content)
    assert ("oss://" in json.dumps(body)) is expected
    assert seen[0].headers.get("X-DashScope-OssResourceResolve") == ("enable" if expected else None)


async def test_policy_request_carries_the_key_and_parses_string_numbers() -> None:
    """getPolicy goes to the API host with the key; numbers given as strings are accepted."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"request_id": "r", "data": POLICY_DATA})

    client, http = _client(handler)
    async with http:
        policy = await client.get_upload_policy("wan2.6-i2v-flash")
    assert str(seen[0].url) == "https://api.example/api/v1/uploads?action=getPolicy&model=wan2.6-i2v-flash"
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"
    assert policy.expire_in_s == 300.0 and policy.max_file_bytes == 100 * 1024 * 1024
    assert "c2lnbmF0dXJl" not in repr(policy)


async def test_form_upload_goes_to_the_storage_host_without_the_key_in_sdk_field_order() -> None:
    """The form POST reaches upload_host with no Authorization, fields in the SDK's order, file last."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client, http = _client(handler)
    async with http:
        url = await client.upload_file(_policy(), b"RIFF....WAVE", "abc-tone.wav", "audio/wav")
    request = seen[0]
    assert str(request.url) == STORAGE and "authorization" not in request.headers
    assert KEY not in request.read().decode("latin-1")
    names = re.findall(r'; name="([^"]+)"', request.content.decode("latin-1"))
    assert names == [
        "OSSAccessKeyId",
        "Signature",
        "policy",
        "key",
        "x-oss-object-acl",
        "x-oss-forbid-overwrite",
        "success_action_status",
        "x-oss-content-type",
        "file",
    ]
    assert url == "oss://dashscope-instant/abc/2026-11-25/xyz/abc-tone.wav"


Transient = TransientApiError


def _xml(code: str, message: str) -> str:
    return f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (403, _xml("AccessDenied", "Invalid according to Policy: Policy expired"), Transient, POLICY_EXPIRED),
        (503, _xml("ServiceUnavailable", "Please reduce your request rate"), Transient, "ServiceUnavailable"),
        (429, '{"Code": "Throttling", "Message": "slow down"}', Transient, "Throttling"),
        (400, _xml("EntityTooLarge", "Your upload exceeds the size."), TaskRejectedError, "EntityTooLarge"),
    ],
)  # fmt: skip
async def test_storage_refusals_are_classified(
    status: int, body: str, error: type[Exception], code: str
) -> None:
    """An expired policy, 429 and 5xx are transient (PolicyExpired named); other refusals are permanent."""
    client, http = _client(lambda request: httpx.Response(status, text=body))
    async with http:
        with pytest.raises(error) as caught:
            await client.upload_file(_policy(), b"x", "a.png", "image/png")
    assert getattr(caught.value, "code", None) == code


async def test_existing_object_with_our_hashed_name_counts_as_uploaded() -> None:
    """409 FileAlreadyExists (an earlier attempt landed, its reply lost) yields the object's URL."""
    xml = "<Error><Code>FileAlreadyExists</Code><Message>exists</Message></Error>"
    client, http = _client(lambda request: httpx.Response(409, text=xml))
    async with http:
        url = await client.upload_file(_policy(), b"x", "abc-a.png", "image/png")
    assert url.endswith("/abc-a.png")


async def test_policy_refused_for_a_bad_key_is_an_account_error() -> None:
    """getPolicy answered 401 InvalidApiKey stops the run like any account error."""
    reply = {"code": "InvalidApiKey", "message": "Invalid API-key provided."}
    client, http = _client(lambda request: httpx.Response(401, json=reply))
    async with http:
        with pytest.raises(AccountError):
            await client.get_upload_policy("wan2.6-i2v-flash")


def _policy() -> UploadPolicy:
    return parse_policy("wan2.6-i2v-flash", POLICY_DATA)
