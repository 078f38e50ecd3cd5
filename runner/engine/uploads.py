"""Local files into DashScope's temporary storage, each distinct file once per 48-hour window.

The official SDK uploads a local file again for every request that names it, with a
fresh credential each time. Here an upload is an asset of the run, journalled by
(sha256, model) with the instant its oss:// URL expires: a file that a thousand tasks
share is uploaded once, and again only when its URL is about to expire. At most one
upload per (sha256, model) is in flight; tasks that need the same file meanwhile wait
for it. Uploads have their own concurrency and their own credential budget (getPolicy:
100/s per account and model), and a credential is reused for several files while it
is valid. Transient failures are retried with backoff; what is still failing after
that is raised for the engine to defer the task (transient) or fail it (permanent).

`resolve_inputs` turns a task's media into what goes on the wire: URLs unchanged, small
local images inline as data: URLs, everything else through the uploader.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import anyio
import stamina

from runner.api import POLICY_EXPIRED, DashScopeClient, ResolvedInputs, UploadPolicy
from runner.core import (
    AccountError,
    ApiError,
    InputFileError,
    MediaRef,
    TaskRejectedError,
    TaskSpec,
    TransientApiError,
)
from runner.engine.ratelimit import AnyioClock, Clock, Pacer
from runner.journal import Asset, Store

__all__ = [
    "DATA_URL_MAX",
    "OSS_LIFETIME_S",
    "REUPLOAD_MARGIN_S",
    "AssetUploader",
    "Carrier",
    "UploadSettings",
    "carrier",
    "read_verified",
    "resolve_inputs",
]

#: Local images up to this many raw bytes travel inline as a data: URL; larger ones are
#: uploaded. Base64 adds a third, so 1 MB becomes a ~1.4 MB JSON body: quick to send on
#: every retry and far below the 10 MB cap DashScope documents for a data URI (docs/dashscope-api.md,
#: inputs). Above it, a reused upload is cheaper than resending.
DATA_URL_MAX: Final = 1024 * 1024
OSS_LIFETIME_S: Final = 48 * 3600.0  #: server seconds an oss:// object lives (docs/dashscope-api.md)
#: An asset is uploaded again when less than this is left: a task submitted now may wait in
#: DashScope's queue before the service fetches its inputs.
REUPLOAD_MARGIN_S: Final = 2 * 3600.0
UPLOAD_POLICY_RATE: Final = 100.0  #: getPolicy requests per second per model (docs/dashscope-api.md)
_POLICY_REUSE: Final = 0.8  #: share of a credential's lifetime we use it for
_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")
#: in the messages of a create refused because the service could not find or read an input
_MEDIA_REFUSAL: Final = "media resource"
_BACKOFF_CAP_S: Final = 30.0  #: server seconds: the longest wait between two upload attempts


@dataclass(frozen=True, slots=True)
class UploadSettings:
    """Knobs of the upload flow; times are in server seconds."""

    data_url_max: int = DATA_URL_MAX  #: raw bytes: larger local images are uploaded
    concurrency: int = 4  #: form uploads at once
    attempts: int = 4  #: per upload, for transient failures
    backoff_s: float = 0.5  #: first retry delay (doubled each time, plus up to as much jitter)
    margin_s: float = REUPLOAD_MARGIN_S
    time_scale: float = 1.0  #: real seconds per server second (a compressed simulator)


class AssetUploader:
    """Uploads local files for a run's tasks, journalling each as an Asset of the store."""

    def __init__(
        self,
        store: Store,
        client: DashScopeClient,
        settings: UploadSettings | None = None,
        *,
        clock: Clock | None = None,
        wall: Callable[[], float] = time.time,
        account: str = "",
    ) -> None:
        """`clock` paces and backs off (monotonic); `wall` dates assets (epoch seconds);
        `account`: whose key `client` holds (its uploads are readable by that account only)."""
        self.settings = settings or UploadSettings()
        self._account = account
        self._store = store
        self._client = client
        self._clock: Clock = clock or AnyioClock()
        self._wall = wall
        self._slots = anyio.CapacityLimiter(self.settings.concurrency)
        self._locks: dict[tuple[str, str], anyio.Lock] = {}
        self._refused: dict[tuple[str, str], TaskRejectedError] = {}
        self._account_error: AccountError | None = None
        self._policies: dict[str, tuple[UploadPolicy, float]] = {}
        self._pacers: dict[str, Pacer] = {}
        self._made: set[str] = set()  # URLs uploaded by this uploader
        self._reused: dict[str, tuple[str, str]] = {}  # URLs taken from the journal → (sha256, model)
        self.uploads = 0  #: files uploaded by this uploader
        self.policies = 0  #: credentials fetched

    async def oss_url(self, media: MediaRef, model: str) -> str:
        """The oss:// URL of a local file for `model`: journalled if still fresh, else uploaded now.

        InputFileError if the file changed or vanished; TaskRejectedError if storage refuses it;
        TransientApiError once retries are spent; AccountError if the key cannot be used.
        """
        key = (media.sha256 or "", model)
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            refused = self._account_error or self._refused.get(key)
            if refused is not None:
                raise refused
            asset = self._store.asset(*key, self._account)
            if asset is not None and asset.expires_at - self._scaled(self.settings.margin_s) > self._wall():
                if asset.url not in self._made:
                    self._reused[asset.url] = key
                return asset.url
            data = read_verified(media)
            try:
                url, started = await self._upload_with_retries(media, data, model)
            except TaskRejectedError as error:
                self._refused[key] = error
                raise
            except AccountError as error:  # the run stops: tasks waiting for this file send nothing more
                self._account_error = error
                raise
            expires_at = started + self._scaled(OSS_LIFETIME_S)  # counted from before the POST
            self._store.put_asset(Asset(key[0], model, url, expires_at, self._account))
            self._made.add(url)
            return url

    def forget_unknown(self, urls: Iterable[str | None], refusal: ApiError) -> bool:
        """After a create refused for its media: drop journalled uploads the service does not know.

        An upload from an earlier run may be unknown to the service (another account, a
        restarted simulator). True when such an upload was forgotten: the task can be sent
        again with a fresh one. Uploads made by this uploader are never second-guessed.
        """
        if _MEDIA_REFUSAL not in str(refusal).lower():
            return False
        forgotten = False
        for url in urls:
            key = self._reused.pop(url or "", None)
            if key is None:
                continue
            current = self._store.asset(*key, self._account)
            if current is not None and current.url == url:  # not already replaced by another task
                self._store.put_asset(Asset(key[0], key[1], current.url, 0.0, self._account))
            forgotten = True
        return forgotten

    async def _upload_with_retries(self, media: MediaRef, data: bytes, model: str) -> tuple[str, float]:
        """(oss:// URL, wall instant the successful attempt began). Transient failures are tried
        again with exponential backoff and jitter (stamina), never before the server's Retry-After;
        an expired credential at once, with a new one."""
        name = _object_name(media)
        retrying = stamina.retry_context(
            on=_worth_another_upload,
            attempts=self.settings.attempts,
            timeout=None,
            wait_initial=self._scaled(self.settings.backoff_s),
            wait_max=self._scaled(_BACKOFF_CAP_S),
            wait_jitter=self._scaled(self.settings.backoff_s),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._upload_once(media, data, model, name)
        except TransientApiError as error:
            raise _gave_up(error, media, self.settings.attempts) from None
        except (TaskRejectedError, AccountError) as error:
            raise _about_file(error, media) from None
        raise AssertionError("stamina ends a retry loop with a result or the last error")

    async def _upload_once(self, media: MediaRef, data: bytes, model: str, name: str) -> tuple[str, float]:
        started = self._wall()
        try:
            policy = await self._policy(model)
            async with self._slots:
                url = await self._client.upload_file(policy, data, name, media.mime or "")
        except TransientApiError as error:
            if error.code == POLICY_EXPIRED:
                self._policies.pop(model, None)
            raise
        self.uploads += 1
        return url, started

    async def _policy(self, model: str) -> UploadPolicy:
        """A credential for `model`: the cached one while comfortably valid, else a new one."""
        cached = self._policies.get(model)
        if cached is not None and self._clock.now() < cached[1]:
            return cached[0]
        pacer = self._pacers.get(model)
        if pacer is None:
            pacer = self._pacers[model] = Pacer(
                UPLOAD_POLICY_RATE / self.settings.time_scale, clock=self._clock
            )
        await pacer.wait()
        try:
            policy = await self._client.get_upload_policy(model)
        except TransientApiError as error:
            if error.status_code == 429:
                pacer.throttled(error.retry_after)
            raise
        self.policies += 1
        valid_until = self._clock.now() + self._scaled(policy.expire_in_s * _POLICY_REUSE)
        self._policies[model] = (policy, valid_until)
        return policy

    def _scaled(self, server_s: float) -> float:
        return server_s * self.settings.time_scale


def read_verified(media: MediaRef) -> bytes:
    """The bytes of a local file, checked against the hash the plan recorded."""
    kind = {"audio": "audio file", "video": "video"}.get(media.kind, "image")
    path = Path(media.path or "")
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"The {kind} {path} cannot be read ({exc.strerror}). Restore it and run again."
        raise InputFileError(msg) from None
    found = hashlib.sha256(data).hexdigest()
    if found != media.sha256:
        msg = (
            f"The {kind} {path} changed since the manifest was planned (sha256 {found[:12]}…, expected "
            f"{(media.sha256 or '')[:12]}…). Restore it, or run the manifest again so its tasks are "
            "planned afresh with the new file."
        )
        raise InputFileError(msg)
    return data


def _object_name(media: MediaRef) -> str:
    """The object's name: the content hash keeps it unique within a credential's folder."""
    base = _SAFE_NAME.sub("_", Path(media.path or "file").name)[-80:] or "file"
    return f"{(media.sha256 or '')[:16]}-{base}"


def _about_file(error: TaskRejectedError | AccountError, media: MediaRef) -> TaskRejectedError | AccountError:
    if isinstance(error, AccountError):
        return error
    msg = (
        f"The local file {media.path} could not be uploaded to temporary storage: {error} "
        "Check the file (its size and format), then run again."
    )
    return TaskRejectedError(msg, status_code=error.status_code, code="UploadFailed")


def _worth_another_upload(error: Exception) -> bool | float:
    """stamina's backoff hook: transient failures are tried again (after the server's
    Retry-After when it sent one), an expired credential at once; nothing else is."""
    if not isinstance(error, TransientApiError):
        return False
    if error.code == POLICY_EXPIRED:
        return 0.0
    return True if error.retry_after is None else error.retry_after


def _gave_up(error: TransientApiError, media: MediaRef, attempts: int) -> TransientApiError:
    msg = (
        f"Uploading the local file {media.path} failed {attempts} times; the task is tried later. "
        f"Last: {error}"
    )
    # No status code: an exhausted upload must not slow the create pacing as a create 429 would.
    return TransientApiError(msg, code=error.code)


Carrier = Literal["url", "data", "upload"]


def carrier(media: MediaRef, data_url_max: int) -> Carrier:
    """How `media` travels: its own URL, an inline data: URL, or an upload to temporary storage."""
    if media.path is None:
        return "url"
    if media.kind == "image" and (media.size or 0) <= data_url_max:
        return "data"
    return "upload"


async def resolve_inputs(spec: TaskSpec, uploader: AssetUploader) -> ResolvedInputs:
    """The wire URLs of `spec`'s media (images, audio, videos), in order.

    InputFileError if a local file changed or vanished; the uploader's errors otherwise.
    """
    urls = [(item.role, await _wire_url(spec, item.ref, uploader)) for item in spec.media]
    return ResolvedInputs(tuple(urls))


async def _wire_url(spec: TaskSpec, media: MediaRef, uploader: AssetUploader) -> str:
    how = carrier(media, uploader.settings.data_url_max)
    if how == "url":
        return media.url or ""
    if how == "data":
        encoded = base64.b64encode(read_verified(media)).decode("ascii")
        return f"data:{media.mime or 'application/octet-stream'};base64,{encoded}"
    return await uploader.oss_url(media, spec.model)
