"""Resumed downloads: a transfer that breaks off continues with a Range request from the bytes
already saved, and the video that lands is byte-identical to the one the server holds."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest
from engine_helpers import assert_folder_complete, make_specs, run_batch, sim_app
from seeding import minimal_mp4
from sim_helpers import SimHarness, open_sim

from runner.api.client import DashScopeClient
from runner.core.errors import DownloadError
from runner.engine.downloads import fetch_video
from runner.outputs.videos import VideoFile, VideoWriter

pytestmark = pytest.mark.anyio

VIDEO = minimal_mp4(bytes(range(256)) * 400)
URL = "https://oss.example/t1.mp4?Signature=s"


def make_client(handler: Callable[[httpx.Request], httpx.Response]) -> DashScopeClient:
    return DashScopeClient(httpx.AsyncClient(transport=httpx.MockTransport(handler)), "sk-test")


async def _finished_video(harness: SimHarness) -> tuple[str, bytes]:
    """A succeeded task's video URL and the video's bytes, fetched once in full."""
    task_id = await harness.submit_id()
    harness.clock.advance(7200)
    url = str((await harness.query(task_id))["output"]["video_url"])
    return url, (await harness.client.get(url)).content


async def test_a_download_resumes_from_the_bytes_already_saved(tmp_path: Path) -> None:
    """With half the video saved, the next try asks for the rest only and the file is identical."""
    async with open_sim(video_bytes=3 * 1024 * 1024) as harness:
        url, whole = await _finished_video(harness)
        client = DashScopeClient(harness.client, "sk-sim-local")
        with VideoWriter(tmp_path, "fox", None) as writer:
            writer.write(whole[: len(whole) // 2])
            video = await fetch_video(client, writer, url, anyio.CapacityLimiter(1))
        downloads = harness.sim.ledger()["downloads"]
    assert (tmp_path / video.path).read_bytes() == whole
    assert video.sha256 == hashlib.sha256(whole).hexdigest() and video.size == len(whole)
    assert downloads["ranged"] == 1
    assert downloads["bytes"] == len(whole) + len(whole) - len(whole) // 2


async def test_a_host_that_ignores_the_range_sends_the_video_again_from_the_start(tmp_path: Path) -> None:
    """A 200 with the whole video instead of a 206: the saved bytes are dropped, not doubled."""
    ranges = []

    def handler(request: httpx.Request) -> httpx.Response:
        ranges.append(request.headers.get("range"))
        return httpx.Response(200, content=VIDEO)

    with VideoWriter(tmp_path, "fox", None) as writer:
        writer.write(VIDEO[:5000])
        video = await fetch_video(make_client(handler), writer, URL, anyio.CapacityLimiter(1))
    assert ranges == ["bytes=5000-"]
    assert (tmp_path / video.path).read_bytes() == VIDEO
    assert video.sha256 == hashlib.sha256(VIDEO).hexdigest()


class _SeenWriter(VideoWriter):
    """A VideoWriter that notes how many transfers were under way when it was finished."""

    def __init__(self, run_dir: Path, transfers: anyio.CapacityLimiter) -> None:
        super().__init__(run_dir, "fox", None)
        self._transfers = transfers
        self.transfers_at_finish: float | None = None

    def finish(self) -> VideoFile:
        self.transfers_at_finish = self._transfers.borrowed_tokens
        return super().finish()


@pytest.mark.parametrize("size", [len(VIDEO), 2 * 1024 * 1024])
async def test_a_video_gives_up_its_transfer_before_it_is_fsynced(tmp_path: Path, size: int) -> None:
    """The network does not wait for the disk: while a video is verified, fsync'd and renamed,
    its place among the transfers is already free for the next one (small and large videos)."""
    body = minimal_mp4(b"v" * size)
    transfers = anyio.CapacityLimiter(1)
    borrowed_while_streaming = []

    def handler(request: httpx.Request) -> httpx.Response:
        borrowed_while_streaming.append(transfers.borrowed_tokens)
        return httpx.Response(200, content=body)

    with _SeenWriter(tmp_path, transfers) as writer:
        video = await fetch_video(make_client(handler), writer, URL, transfers)
    assert borrowed_while_streaming == [1]
    assert writer.transfers_at_finish == 0
    assert (tmp_path / video.path).read_bytes() == body


@pytest.mark.parametrize(
    ("status", "content_range"),
    [(206, "bytes 0-99/102428"), (206, "pages 5000-6000/102428"), (416, "bytes */4000")],
)
async def test_a_range_the_host_cannot_serve_restarts_the_download(
    tmp_path: Path, status: int, content_range: str
) -> None:
    """A 206 for the wrong bytes, or 416: a DownloadError that empties the saved part, so the
    next try starts at byte 0 rather than splicing bytes that do not belong together."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=b"x" * 100, headers={"content-range": content_range})

    with VideoWriter(tmp_path, "fox", None) as writer:
        writer.write(VIDEO[:5000])
        with pytest.raises(DownloadError, match=r"Resuming .* at byte 5000 failed") as caught:
            await fetch_video(make_client(handler), writer, URL, anyio.CapacityLimiter(1))
        assert caught.value.restart and not caught.value.expired
        assert writer.size == 0
        assert not (tmp_path / "videos" / "fox.mp4.part").exists()
    assert "Signature" not in str(caught.value)


@pytest.mark.slow
async def test_transfers_cut_mid_body_over_a_socket_resume_instead_of_starting_over(tmp_path: Path) -> None:
    """Over a real socket the first two downloads are cut halfway: each resumes where its bytes
    end, every video is byte-identical, and the server sends far less than twice the bytes."""
    size = 4 * 1024 * 1024
    script = [
        {"endpoint": "download", "nth": 1, "kind": "truncate"},
        {"endpoint": "download", "nth": 2, "kind": "truncate"},
    ]
    app = sim_app("fast", seed=31, video_bytes=size, faults={"script": script})
    batch = await run_batch(tmp_path, make_specs(3), app, loopback=True)
    assert batch.summary.done == 3 and batch.summary.failed == 0
    downloads = batch.ledger["downloads"]
    assert (downloads["truncated"], downloads["ranged"]) == (2, 2)
    assert downloads["bytes"] < 5 * size  # starting over: 3 whole videos + 2 cut ones
    assert_folder_complete(tmp_path, batch.ledger)
