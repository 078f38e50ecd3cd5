"""The download pool: fetch each succeeded task's video into place, verified, then journal it.

Its own small concurrency, separate from the submit slots (a task's slot is released when
the server says SUCCEEDED, before its video is fetched). Each download streams into a
results.VideoWriter (`.part`, size and MP4 check, sha256, fsync, atomic rename), then the
sidecar is written, then the journal says DONE: a crash anywhere leaves either no video,
or a complete video that the next run fetches again.

- an expired URL (403/404 from the storage host) is refreshed by querying the task again;
  a task the server no longer knows is EXPIRED;
- truncated or reset transfers are retried a few times, each try resuming with a Range request
  from the bytes already saved (and hashed), then left SUCCEEDED for the next run;
- a full disk stops the run's submissions (the engine decides) and leaves the task SUCCEEDED.

The bytes are written and hashed in a worker thread, 4 MiB at a time, and so are each
video's closing fsync and its sidecar, so disk work never stalls the event loop (the other
downloads, the polls). The network does not wait for the disk: `transfers` videos stream at
once, and a video whose bytes have all arrived gives its place to the next one while its
fsync and rename run (two workers per transfer). BENCHMARKS.md has the figures.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final, Protocol

import anyio
import stamina
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from runner.api import DashScopeClient
from runner.core import (
    AccountError,
    ApiError,
    DownloadError,
    Event,
    TaskRecord,
    TaskSpec,
    TaskState,
    TransientApiError,
)
from runner.engine.config import Offload
from runner.engine.crashpoints import crash_point
from runner.engine.polling.poller import Poller
from runner.journal import Store
from runner.outputs import VideoFile, VideoWriter, write_sidecar

__all__ = [
    "HELD_BYTES_PER_TRANSFER",
    "WORKERS_PER_TRANSFER",
    "DownloadListener",
    "Downloader",
    "fetch_video",
    "video_cap",
]

log = logging.getLogger(__name__)

MAX_TRIES: Final = 6
_RETRY_CAP_S: Final = 8  #: the longest wait between tries, in multiples of the first
WORKERS_PER_TRANSFER: Final = 2  #: one streams, one finishes the video it streamed before
_MIB: Final = 1024 * 1024
_READ_BYTES: Final = 64 * 1024  #: what httpx asks the socket for at a time
_THREAD_BYTES: Final = 4 * _MIB  #: received bytes are handed to a worker thread this many at a time
#: The most received bytes one transfer holds, whatever the video's size: the batch being filled
#: and the tail of the video finishing behind it (each under a batch and one read), the read
#: being parsed and h11's copy of it.
HELD_BYTES_PER_TRANSFER: Final = 2 * (_THREAD_BYTES + _READ_BYTES) + 2 * _READ_BYTES


def video_cap(spec: TaskSpec, max_mb: float | None = None) -> int:
    """The most bytes `spec`'s video may take: `max_mb` when the run sets it, else generous for
    its length and tier (64 MiB plus 16 MiB a second at 1080P, 8 below; a 15 s 1080P video is
    about 30 MB), so a body that never ends cannot fill the disk."""
    if max_mb is not None:
        return int(max_mb * _MIB)
    per_second = 16 if spec.resolution == "1080P" else 8
    return (64 + per_second * spec.duration) * _MIB


async def fetch_video(
    client: DashScopeClient,
    writer: VideoWriter,
    url: str,
    transfers: anyio.CapacityLimiter,
    offload: Offload = anyio.to_thread.run_sync,
    cap: int | None = None,
) -> VideoFile:
    """Stream a video into `writer`, resuming from the bytes it already holds, then verify it
    (size, MP4 check), fsync it and rename it into place. The transfer holds one of
    `transfers`; the verification, fsync and rename do not. More than `cap` bytes, announced
    or received, is refused (DownloadError(refused=True)) and nothing is kept."""
    try:
        async with transfers, client.stream_download(url, start=writer.size) as stream:
            if stream.offset != writer.size:
                writer.abort()  # the host sent the whole video again: start over
            writer.expected_size = stream.size
            if cap is not None and stream.size is not None and stream.size > cap:
                raise _too_large(writer, cap, f"the storage host announces {stream.size:,} bytes")
            tail = await _receive(writer, stream.chunks, offload, cap)
    except DownloadError as error:
        if error.restart:
            writer.abort()
        raise
    # Even a small video's fsyncs (file and folder) would stall the event loop for a disk flush.
    video = await offload(_finish, writer, tail)
    crash_point("after_rename_before_journal")
    return video


async def _receive(
    writer: VideoWriter, chunks: AsyncIterator[bytes], offload: Offload, cap: int | None
) -> list[bytes]:
    """Write what arrives, 4 MiB at a time in a worker thread; the last bytes, not yet
    written, are returned. If the transfer breaks off, those are dropped: `writer.size` is
    where a resume starts."""
    batch: list[bytes] = []
    batched = 0
    async for chunk in chunks:
        if cap is not None and writer.size + batched + len(chunk) > cap:
            raise _too_large(writer, cap, f"{writer.size + batched + len(chunk):,} bytes had arrived")
        if writer.size == 0:
            writer.write(chunk)  # the `.part` exists from the first bytes on
            crash_point("mid_download")
            continue
        batch.append(chunk)
        batched += len(chunk)
        if batched >= _THREAD_BYTES:
            await offload(_write_all, writer, batch)
            batch, batched = [], 0
    return batch


def _too_large(writer: VideoWriter, cap: int, seen: str) -> DownloadError:
    writer.abort()
    msg = (
        f"The video of task {writer.task!r} is larger than its cap of {cap:,} bytes ({seen}); "
        "nothing was kept. If such a video is real, raise the cap with --max-video-mb and run again."
    )
    return DownloadError(msg, refused=True)


def _write_all(writer: VideoWriter, chunks: list[bytes]) -> None:
    for chunk in chunks:
        writer.write(chunk)


def _finish(writer: VideoWriter, chunks: list[bytes]) -> VideoFile:
    _write_all(writer, chunks)
    return writer.finish()


class _Settled(Exception):
    """The download ended without a video, already journalled (the task expired)."""


def _worth_another_try(error: Exception) -> bool:
    """stamina's hook: a transfer that broke off is tried again; a full disk or a refused
    video is not."""
    return isinstance(error, DownloadError) and not (error.disk_full or error.refused)


class DownloadListener(Protocol):
    """What the engine does when a download settles."""

    def download_settled(self, task: str) -> None: ...

    def disk_full(self, error: DownloadError) -> None: ...

    def account_failed(self, error: AccountError) -> None: ...


class Downloader:
    """A queue of succeeded tasks and the workers that fetch their videos."""

    def __init__(
        self,
        store: Store,
        client: DashScopeClient,
        poller: Poller,
        run_dir: Path,
        listener: DownloadListener,
        *,
        transfers: int = 4,
        retry_delay: float = 0.5,
        offload: Offload = anyio.to_thread.run_sync,
        max_video_mb: float | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._poller = poller
        self._run_dir = run_dir
        self._listener = listener
        self._transfers = anyio.CapacityLimiter(transfers)
        self._workers = WORKERS_PER_TRANSFER * transfers
        self._retry_delay = retry_delay
        self._offload = offload
        self._max_video_mb = max_video_mb
        self._send: MemoryObjectSendStream[str]
        self._receive: MemoryObjectReceiveStream[str]
        self._send, self._receive = anyio.create_memory_object_stream[str](math.inf)
        self.queued = 0  # enqueued and not yet settled
        self.retries = 0
        self.stopped = False  # disk full: leave the rest for the next run

    def enqueue(self, task: str) -> None:
        self.queued += 1
        self._send.send_nowait(task)

    async def run(self) -> None:
        """Run the workers until cancelled."""
        async with anyio.create_task_group() as group:
            for _ in range(self._workers):
                group.start_soon(self._worker)

    async def _worker(self) -> None:
        async for task in self._receive:
            # Let what the same event woke run first: a freed slot's next submission, whose
            # every millisecond of delay leaves the account's quota idle.
            await anyio.lowlevel.checkpoint()
            try:
                if not self.stopped:
                    await self._download(task)
            finally:
                self.queued -= 1
                self._listener.download_settled(task)

    async def _download(self, task: str) -> None:
        record = self._store.record(task)
        if record.state is not TaskState.SUCCEEDED:
            return
        record = self._store.transition(task, Event.DOWNLOAD_STARTED)
        with VideoWriter(self._run_dir, task, None) as writer:  # kept across tries: they resume
            await self._tries(task, record, writer)

    async def _tries(self, task: str, record: TaskRecord, writer: VideoWriter) -> None:
        """Fetch the video, trying again (stamina: exponential backoff with jitter) while a
        try breaks off; each try resumes from the bytes already saved, and an expired URL is
        refreshed before the next. A full disk, a refused video or the last failed try leave
        the task SUCCEEDED for the next run."""
        retrying = stamina.retry_context(
            on=_worth_another_try,
            attempts=MAX_TRIES,
            timeout=None,
            wait_initial=self._retry_delay,
            wait_max=_RETRY_CAP_S * self._retry_delay,
            wait_jitter=self._retry_delay,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if attempt.num > 1:
                        self.retries += 1
                    record, fields = await self._try(task, record, writer)
        except _Settled:
            return
        except DownloadError as error:
            self._interrupted(task, error)
            if error.disk_full:
                self.stopped = True
                self._listener.disk_full(error)
            elif error.refused:
                log.error("%s", error)
            return
        self._store.transition(task, Event.DOWNLOADED, cost=record.cost, **fields)

    async def _try(
        self, task: str, record: TaskRecord, writer: VideoWriter
    ) -> tuple[TaskRecord, dict[str, Any]]:
        """One try: the video into place and its sidecar written; the record to go on with."""
        cap = video_cap(self._store.spec(task), self._max_video_mb)
        try:
            video = await fetch_video(
                self._client, writer, record.video_url or "", self._transfers, self._offload, cap
            )
        except DownloadError as error:
            if error.expired:  # a new signed URL for the next try, or the task is gone
                refreshed = await self._refresh(task, error)
                if refreshed is None:
                    raise _Settled from None
                record = refreshed
            raise
        return record, await self._write_sidecar(task, record, video)

    async def _write_sidecar(self, task: str, record: TaskRecord, video: VideoFile) -> dict[str, Any]:
        """Write the video's sidecar; returns the journal fields of the downloaded video."""
        fields: dict[str, Any] = {
            "video_path": video.path,
            "video_sha256": video.sha256,
            "video_size": video.size,
        }
        final = dataclasses.replace(record, state=TaskState.DONE, **fields)
        # Its two fsyncs would stall the event loop, and with it the polls and submissions.
        await self._offload(write_sidecar, self._run_dir, self._store.spec(task), final, self._store.endpoint)
        return fields

    async def _refresh(self, task: str, error: DownloadError) -> TaskRecord | None:
        """A fresh signed URL from the server (the same record if the query failed transiently);
        None when the task expired (journalled) or on another error."""
        record = self._store.record(task)
        try:
            status = await self._poller.query(record.task_id or "")
        except AccountError as account:
            self._interrupted(task, error)
            self._listener.account_failed(account)
            return None
        except TransientApiError:
            return record  # the refresh itself met a 503 or a drop: back off and try again
        except ApiError:
            self._interrupted(task, error)
            return None
        if status.status == "SUCCEEDED" and status.video_url:
            self._store.transition(task, Event.DOWNLOAD_INTERRUPTED, video_url=status.video_url)
            return self._store.transition(task, Event.DOWNLOAD_STARTED)
        message = (
            f"The video of task {task!r} (DashScope task {record.task_id}) expired before it was "
            f"downloaded: the server now reports {status.status}. "
            "Run with --retry-failed to generate it again."
        )
        self._store.transition(task, Event.EXPIRED, error_code="VideoExpired", error_message=message)
        return None

    def _interrupted(self, task: str, error: DownloadError) -> None:
        self._store.transition(task, Event.DOWNLOAD_INTERRUPTED, detail={"error": str(error)})
