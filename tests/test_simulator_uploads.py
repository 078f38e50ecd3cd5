"""Simulator temporary storage: getPolicy, the OSS form upload, oss:// in create."""

from __future__ import annotations

from typing import Any

import pytest
from data.media_fixtures import png as make_png
from sim_helpers import AUTH, CREATE, HEADERS, SimHarness, body, open_sim

pytestmark = pytest.mark.anyio

_POLICY = "/uploads?action=getPolicy&model={model}"


async def _upload(
    h: SimHarness, model: str = "wan2.6-i2v-flash", data: bytes | None = None, **changes: str
) -> tuple[int, str]:
    """Get a policy and upload like the SDK does; return (status, oss:// url)."""
    fields = {"x-oss-content-type": "image/png", **changes}
    return await h.upload_form(
        model, data if data is not None else make_png(320, 240), "cat.png", "image/png", **fields
    )


async def _create(h: SimHarness, url: str, resolve: bool = True, model: str = "wan2.6-i2v-flash") -> Any:
    headers = {**HEADERS, "X-DashScope-OssResourceResolve": "enable"} if resolve else HEADERS
    return await h.client.post(CREATE, json=body(model, img_url=url), headers=headers)


async def test_get_policy_has_the_documented_fields() -> None:
    """getPolicy returns data with policy, signature, upload_dir, upload_host and limits."""
    async with open_sim() as h:
        response = await h.client.get(_POLICY.format(model="wan2.6-i2v-flash"), headers=AUTH)
        data = response.json()["data"]
        assert response.status_code == 200
        assert data["upload_host"] == "http://sim.local/_oss/upload"
        assert data["expire_in_seconds"] == 300 and data["x_oss_forbid_overwrite"] == "true"
        assert data["upload_dir"].startswith("dashscope-instant/")


async def test_get_policy_checks_model_and_key() -> None:
    """getPolicy for an unknown model is 400 Model not exist; without a key 401."""
    async with open_sim() as h:
        unknown = await h.client.get(_POLICY.format(model="nope"), headers=AUTH)
        assert unknown.status_code == 400 and unknown.json()["message"] == "Model not exist."
        assert (await h.client.get(_POLICY.format(model="wan2.6-i2v-flash"))).status_code == 401


async def test_uploaded_file_is_usable_with_the_resolve_header() -> None:
    """An upload's oss:// key is accepted in create with X-DashScope-OssResourceResolve."""
    async with open_sim() as h:
        status, url = await _upload(h)
        assert status == 200
        assert (await _create(h, url)).status_code == 200
        assert h.sim.ledger()["uploads"] == 1


async def test_oss_url_without_resolve_header_is_refused() -> None:
    """oss:// without the resolve header is 400 InvalidParameter.DataInspection."""
    async with open_sim() as h:
        _, url = await _upload(h)
        response = await _create(h, url, resolve=False)
        assert response.status_code == 400
        assert response.json()["code"] == "InvalidParameter.DataInspection"


async def test_upload_expires_after_48_hours() -> None:
    """An oss:// object older than 48 h of simulated time is not found."""
    async with open_sim() as h:
        _, url = await _upload(h)
        h.clock.advance(48 * 3600)
        response = await _create(h, url)
        assert response.status_code == 400 and "Failed to find" in response.json()["message"]


async def test_upload_is_bound_to_its_model() -> None:
    """An object uploaded for one model cannot be used by another."""
    async with open_sim() as h:
        _, url = await _upload(h, model="wan2.2-i2v-flash")
        response = await _create(h, url)
        assert response.status_code == 400 and "authorization" in response.json()["message"]


async def test_uploaded_non_image_is_refused_at_create() -> None:
    """An uploaded text file used as img_url is 400 InvalidImage.FileFormat."""
    async with open_sim() as h:
        _, url = await _upload(h, data=b"just some text")
        response = await _create(h, url)
        assert response.json()["code"] == "InvalidImage.FileFormat"


async def test_bad_signature_and_expired_policy_are_refused_like_oss() -> None:
    """A wrong signature is 403 SignatureDoesNotMatch; a policy older than 300 s is 403."""
    async with open_sim() as h:
        status, _ = await _upload(h, Signature="forged")
        assert status == 403
        policy = (await h.client.get(_POLICY.format(model="wan2.6-i2v-flash"), headers=AUTH)).json()
        h.clock.advance(301)
        data = policy["data"]
        fields = {
            "OSSAccessKeyId": data["oss_access_key_id"],
            "Signature": data["signature"],
            "policy": data["policy"],
            "key": f"{data['upload_dir']}/a.png",
        }
        response = await h.client.post(
            data["upload_host"], data=fields, files={"file": ("a.png", make_png(320, 240))}
        )
        assert response.status_code == 403 and "Policy expired." in response.text


async def test_key_outside_upload_dir_and_overwrite_are_refused() -> None:
    """A key outside upload_dir is 403; uploading the same key twice is 409."""
    async with open_sim() as h:
        assert (await _upload(h, key="elsewhere/cat.png"))[0] == 403
        policy = (await h.client.get(_POLICY.format(model="wan2.6-i2v-flash"), headers=AUTH)).json()
        data = policy["data"]
        fields = {
            "OSSAccessKeyId": data["oss_access_key_id"],
            "Signature": data["signature"],
            "policy": data["policy"],
            "key": f"{data['upload_dir']}/a.png",
            "x-oss-forbid-overwrite": "true",
        }
        files = {"file": ("a.png", make_png(320, 240))}
        first = await h.client.post(data["upload_host"], data=fields, files=files)
        second = await h.client.post(data["upload_host"], data=fields, files=files)
        assert (first.status_code, second.status_code) == (204, 409)


async def test_form_without_file_is_refused() -> None:
    """A form with no file part is 400, not a crash."""
    async with open_sim() as h:
        response = await h.client.post("http://sim.local/_oss/upload", data={"key": "x"})
        assert response.status_code == 400 and "<Code>InvalidArgument</Code>" in response.text
