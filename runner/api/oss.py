"""DashScope's temporary file storage on the wire: the upload credential and the form upload.

Two requests (docs/dashscope-api.md): `GET {base}/uploads?action=getPolicy&model=M`
with the API key (sent by runner.api.client), then a multipart form POST to the credential's
`upload_host`, an object storage host that must never see the API key. The form fields go in the order the
official SDK sends them. The result is an `oss://<key>` URL, readable by the service
(for that model only) for 48 hours when the create request carries
`X-DashScope-OssResourceResolve: enable`.

Failures are classified like every other request (runner.core.errors): 429, 5xx and broken
connections are transient; an expired credential is transient with code `PolicyExpired`
(fetch a new one); anything else the storage host refuses concerns this file only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import httpx

from runner.core import ApiError, TaskRejectedError, TransientApiError

__all__ = ["POLICY_EXPIRED", "UPLOAD_PATH", "UploadPolicy", "form_upload", "parse_policy"]

UPLOAD_PATH: Final = "uploads"
POLICY_EXPIRED: Final = "PolicyExpired"
_XML_FIELD: Final = re.compile(r"<(Code|Message)>([^<]*)</\1>")
#: an object with the same key already exists: ours, since the key holds the content hash
_ALREADY_THERE: Final = frozenset({"FileAlreadyExists"})


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    """An upload credential for one model (getPolicy's `data`). Never logged or stored."""

    model: str
    policy: str
    signature: str
    upload_dir: str
    upload_host: str
    access_key_id: str
    object_acl: str
    forbid_overwrite: str
    expire_in_s: float  #: server seconds the credential stays valid
    max_file_bytes: int | None

    def __repr__(self) -> str:  # the signature and policy are credentials
        return f"UploadPolicy(model={self.model!r}, upload_host={self.upload_host!r})"


def parse_policy(model: str, data: Any) -> UploadPolicy:
    """An UploadPolicy from getPolicy's JSON `data` (numbers may come as strings)."""
    if not isinstance(data, dict) or not data.get("upload_host") or not data.get("policy"):
        msg = f"The upload credential for {model} came without a policy or an upload host."
        raise TransientApiError(msg)
    max_mb = _number(data.get("max_file_size_mb"))
    return UploadPolicy(
        model=model,
        policy=str(data["policy"]),
        signature=str(data.get("signature") or ""),
        upload_dir=str(data.get("upload_dir") or "").rstrip("/"),
        upload_host=str(data["upload_host"]),
        access_key_id=str(data.get("oss_access_key_id") or ""),
        object_acl=str(data.get("x_oss_object_acl") or "private"),
        forbid_overwrite=str(data.get("x_oss_forbid_overwrite") or "true"),
        expire_in_s=_number(data.get("expire_in_seconds")) or 300.0,
        max_file_bytes=None if max_mb is None else int(max_mb * 1024 * 1024),
    )


async def form_upload(
    http: httpx.AsyncClient, policy: UploadPolicy, data: bytes, name: str, mime: str
) -> str:
    """POST `data` to the storage host as `<upload_dir>/<name>`; the oss:// URL of the object."""
    key = f"{policy.upload_dir}/{name}"
    fields = {  # the official SDK's order; `file` must come last
        "OSSAccessKeyId": policy.access_key_id,
        "Signature": policy.signature,
        "policy": policy.policy,
        "key": key,
        "x-oss-object-acl": policy.object_acl,
        "x-oss-forbid-overwrite": policy.forbid_overwrite,
        "success_action_status": "200",
        "x-oss-content-type": mime,
    }
    what = "The storage host"
    try:
        # An absolute URL and explicit headers: no Authorization ever goes to the storage host.
        response = await http.post(policy.upload_host, data=fields, files={"file": (name, data, mime)})
    except httpx.TransportError as exc:
        raise TransientApiError(f"{what} did not answer ({type(exc).__name__}).") from None
    if response.status_code in (200, 204):
        return f"oss://{key}"
    code, message = _storage_error(response)
    if code in _ALREADY_THERE:
        return f"oss://{key}"
    raise _classify_storage(response.status_code, code, message, what)


def _classify_storage(status: int, code: str | None, message: str, what: str) -> ApiError:
    detail = f"{what} answered HTTP {status}" + (f" {code}" if code else "") + f": {message.rstrip('.')}."
    if status == 403 and "policy expired" in message.lower():
        return TransientApiError(detail, status_code=status, code=POLICY_EXPIRED)
    if status in (408, 429) or status >= 500:
        return TransientApiError(detail, status_code=status, code=code)
    return TaskRejectedError(detail, status_code=status, code=code)


def _storage_error(response: httpx.Response) -> tuple[str | None, str]:
    """(code, message) of an object-storage error body: XML like OSS, or JSON."""
    text = response.text[:4000]
    try:
        body = response.json()
    except ValueError:
        found = dict(_XML_FIELD.findall(text))
        return found.get("Code"), found.get("Message") or response.reason_phrase or "no message"
    if isinstance(body, dict):
        code = body.get("Code") or body.get("code")
        message = body.get("Message") or body.get("message")
        return (str(code) if code else None), str(message or response.reason_phrase or "no message")
    return None, response.reason_phrase or "no message"


def _number(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None
