"""The fake object storage: the form-upload endpoint and signed, expiring video downloads."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from runner.simulator.clock import Clock
from runner.simulator.errors import oss_error_response
from runner.simulator.faults import Disconnect, SimulatedDisconnect
from runner.simulator.gateway import Context
from runner.simulator.media import sniff_image, sniff_video
from runner.simulator.uploads import HEAD_BYTES, UploadError
from runner.simulator.video import VideoLayout

__all__ = ["Link", "VideoBody", "download_video", "upload_form"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


async def upload_form(request: Request, ctx: Context) -> Response:
    """POST /_oss/upload: the SDK's multipart form (policy, signature, key, ..., file)."""
    form = await request.form(max_part_size=1024 * 1024)
    upload = form.get("file")
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not isinstance(upload, UploadFile):
        return _oss_error(ctx, 400, "InvalidArgument", "The form has no file field.")
    head = await upload.read(HEAD_BYTES)
    size = upload.size if upload.size is not None else len(head)

    def still() -> str | None:  # from the whole (spooled) file: the store keeps only its head
        pictured = sniff_image(head) is not None or sniff_video(head) is None
        return ctx.sim.stills.from_file(upload.file) if pictured else None

    outcome = ctx.sim.uploads.accept(fields, head, size, ctx.now, still)
    await upload.close()
    if isinstance(outcome, UploadError):
        return _oss_error(ctx, outcome.status, outcome.code, outcome.message)
    ctx.sim.ledger_data.uploads += 1
    ctx.sim.remember_upload(outcome)
    status = 200 if fields.get("success_action_status") == "200" else 204
    return Response(status_code=status, headers={"x-oss-request-id": ctx.request_id})


async def download_video(request: Request, ctx: Context) -> Response | ASGIApp:
    """GET /_oss/videos/{task_id}.mp4?Expires=..&Signature=..: the task's video, streamed."""
    sim, downloads = ctx.sim, ctx.sim.ledger_data.downloads
    task = sim.board.tasks.get(request.path_params["name"].removesuffix(".mp4"))
    if task is None or task.live_status(ctx.now) != "SUCCEEDED":
        downloads["denied"] += 1
        return _oss_error(ctx, 404, "NoSuchKey", "The specified key does not exist.")
    expires = request.query_params.get("Expires", "")
    if not expires.isdigit() or request.query_params.get("Signature") != sim.signature(
        task.task_id, int(expires)
    ):
        downloads["denied"] += 1
        return _oss_error(
            ctx,
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    fault = sim.faults.download_fault(sim.next_number("download-body"))
    server_time = int(sim.wall.unix(ctx.now))
    if fault == "expired" or server_time > int(expires):
        downloads["expired" if fault == "expired" else "denied"] += 1
        extra = {"Expires": expires, "ServerTime": str(server_time)}
        return _oss_error(ctx, 403, "AccessDenied", "Request has expired.", extra)
    layout = sim.video(task)
    if fault == "reset":
        downloads["reset"] += 1
        return Disconnect(f"download of {task.task_id} reset")
    span = _byte_range(request.headers.get("range"), layout.size)
    if span is None:
        return _oss_error(ctx, 416, "InvalidRange", "The requested range is not satisfiable.")
    start, stop = span
    partial = (start, stop) != (0, layout.size)
    if request.method != "HEAD":
        downloads["truncated" if fault == "truncate" else "ranged" if partial else "served"] += 1
        sim.ledger_data.download_bytes += stop - start
    rate = sim.config.download_bytes_per_s
    link = None if rate is None else Link(sim.clock, rate)
    return VideoBody(layout, start, stop, ctx.request_id, partial, truncate=fault == "truncate", link=link)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, stop) for a `Range: bytes=a-b` header (whole file without one)."""
    if header is None:
        return 0, size
    match = _RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        return 0, size
    first, last = match.groups()
    if first == "":
        start, stop = max(0, size - int(last)), size
    else:
        start = int(first)
        stop = size if last == "" else min(size, int(last) + 1)
    if start >= size or start >= stop:
        return None
    return start, stop


def _oss_error(
    ctx: Context, status: int, code: str, message: str, extra: dict[str, str] | None = None
) -> Response:
    fmt = ctx.sim.config.download_error_format
    host = {"HostId": "sim.local"}
    return oss_error_response(status, code, message, ctx.request_id, fmt, {**host, **(extra or {})})


@dataclass(frozen=True, slots=True)
class Link:
    """A download link slower than the host: `bytes_per_s` in simulated seconds of `clock`."""

    clock: Clock
    bytes_per_s: float

    async def carry(self, started: float, sent: int) -> None:
        """Return once the link would have carried `sent` bytes since `started`."""
        await self.clock.sleep(started + sent / self.bytes_per_s - self.clock.now())


class VideoBody:
    """Streams [start, stop) of a video with Content-Length, optionally cut short or held
    to the speed of a `link`."""

    def __init__(
        self,
        layout: VideoLayout,
        start: int,
        stop: int,
        request_id: str,
        partial: bool,
        truncate: bool,
        link: Link | None = None,
    ) -> None:
        self.layout, self.start, self.stop = layout, start, stop
        self.status_code = 206 if partial else 200
        self.headers = [
            (b"content-type", b"video/mp4"),
            (b"content-length", str(stop - start).encode()),
            (b"accept-ranges", b"bytes"),
            (b"x-oss-request-id", request_id.encode()),
        ]
        if partial:
            content_range = f"bytes {start}-{stop - 1}/{layout.size}"
            self.headers.append((b"content-range", content_range.encode()))
        self.truncate = truncate
        self.link = link

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the headers, then the body in chunks (half of it, then a drop, if truncated)."""
        start = {"type": "http.response.start", "status": self.status_code, "headers": self.headers}
        await send(start)
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        cut = self.start + (self.stop - self.start) // 2 if self.truncate else self.stop
        link = self.link
        started, sent = (link.clock.now() if link else 0.0), 0
        for chunk in self.layout.chunks(self.start, cut):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if link is not None:
                sent += len(chunk)
                await link.carry(started, sent)
        if self.truncate:
            raise SimulatedDisconnect("Simulated truncated download.")
        await send({"type": "http.response.body", "body": b"", "more_body": False})
