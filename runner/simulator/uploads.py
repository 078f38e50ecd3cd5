"""Temporary file storage: the getPolicy credential and a fake OSS form-upload endpoint.

An upload is bound to the model named when the credential was issued, lives 48 h of
simulated time, and is reachable in a create request as `oss://<key>` only with the
`X-DashScope-OssResourceResolve: enable` header. Only each file's first 256 KiB and its
size are kept: enough to sniff an image or audio, and to read a small video's length; a
picture or a video also leaves a small still of itself (stills.py), for the videos.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from runner.simulator.draws import seeded_uuid
from runner.simulator.errors import Problem

__all__ = ["HEAD_BYTES", "StoredObject", "UploadError", "UploadStore"]

HEAD_BYTES = 256 * 1024
_ACCESS_KEY_ID = "LTAI5tSimulatorKeyId"
_BAD_SIGNATURE = "The request signature we calculated does not match the signature you provided."
_TOO_LARGE = "Your proposed upload exceeds the maximum allowed size."
_EXISTS = "The object you specified already exists and can not be overwritten."

#: makes an accepted upload's still (stills.py), returning its name or None
StillMaker = Callable[[], "str | None"]


@dataclass(frozen=True)
class StoredObject:
    """An uploaded file: its leading bytes, size, model and upload time, and the name of its
    still (stills.py: made from the whole file on arrival) if it is a picture or a video."""

    head: bytes
    size: int
    model: str
    uploaded: float
    still: str | None = None


@dataclass(frozen=True)
class UploadError:
    """A refused form upload, answered like OSS (status, code, message)."""

    status: int
    code: str
    message: str


class UploadStore:
    """Issues upload policies and keeps uploaded objects."""

    def __init__(self, seed: int, policy_ttl: float, object_ttl: float, max_mb: int) -> None:
        self._secret = hashlib.sha256(f"upload-secret:{seed}".encode()).digest()
        self._seed = seed
        self._policy_ttl = policy_ttl
        self._object_ttl = object_ttl
        self._max_mb = max_mb
        self._issued = 0
        self.objects: dict[str, StoredObject] = {}

    def policy(self, model: str, upload_host: str, now: float) -> dict[str, object]:
        """A credential shaped like DashScope's getPolicy `data`."""
        self._issued += 1
        upload_dir = f"dashscope-instant/{seeded_uuid(self._seed, 'dir', self._issued).replace('-', '')}"
        document = {"model": model, "dir": upload_dir, "issued": now}
        policy = base64.b64encode(json.dumps(document, sort_keys=True).encode()).decode()
        return {
            "policy": policy,
            "signature": self._sign(policy),
            "upload_dir": upload_dir,
            "upload_host": upload_host,
            "expire_in_seconds": round(self._policy_ttl),
            "max_file_size_mb": self._max_mb,
            "capacity_limit_mb": 999_999_999,
            "oss_access_key_id": _ACCESS_KEY_ID,
            "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true",
        }

    def accept(
        self, fields: dict[str, str], head: bytes, size: int, now: float, still: StillMaker = lambda: None
    ) -> UploadError | str:
        """Check a form upload against its policy and store it; return the object key. `still`
        makes the file's still, once the upload is accepted."""
        policy = fields.get("policy", "")
        if fields.get("OSSAccessKeyId") != _ACCESS_KEY_ID or not hmac.compare_digest(
            fields.get("Signature", ""), self._sign(policy)
        ):
            return UploadError(403, "SignatureDoesNotMatch", _BAD_SIGNATURE)
        document = json.loads(base64.b64decode(policy))
        if now > document["issued"] + self._policy_ttl:
            return UploadError(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        key = fields.get("key", "")
        if not key.startswith(document["dir"] + "/") or key == document["dir"] + "/":
            condition = f'["starts-with", "$key", "{document["dir"]}"]'
            return UploadError(
                403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {condition}"
            )
        if size > self._max_mb * 1024 * 1024:
            return UploadError(400, "EntityTooLarge", _TOO_LARGE)
        if fields.get("x-oss-forbid-overwrite") == "true" and self._live(key, now):
            return UploadError(409, "FileAlreadyExists", _EXISTS)
        self.objects[key] = StoredObject(head[:HEAD_BYTES], size, document["model"], now, still())
        return key

    def resolve(self, url: str, model: str, now: float) -> Problem | tuple[bytes, int]:
        """The stored object behind an oss:// URL for `model`, or why it cannot be used."""
        key = url.removeprefix("oss://")
        stored = self._live(key, now)
        if stored is None:
            return Problem(
                "InvalidParameter",
                "Failed to find the requested media resource during the data inspection process.",
            )
        if stored.model != model:
            return Problem(
                "InvalidParameter",
                "Don't have authorization to access the media resource during the data inspection process.",
            )
        return stored.head, stored.size

    def still(self, url: str) -> str | None:
        """The still of the upload behind an oss:// URL (checked already: expiry is not asked)."""
        stored = self.objects.get(url.removeprefix("oss://"))
        return None if stored is None else stored.still

    def _live(self, key: str, now: float) -> StoredObject | None:
        stored = self.objects.get(key)
        if stored is None or now >= stored.uploaded + self._object_ttl:
            return None
        return stored

    def _sign(self, policy: str) -> str:
        mac = hmac.new(self._secret, policy.encode(), hashlib.sha1).digest()
        return base64.b64encode(mac).decode()
