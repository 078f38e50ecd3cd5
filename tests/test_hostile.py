"""What a hostile or odd server answer cannot do: fill the disk, make runner follow a file://
URL or a path in a task id, draw on the terminal, stop a run because the list is forbidden,
or fail a task for good because the service timed out fetching its input."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from engine_helpers import assert_own_videos, make_specs, paid_twice, run_batch, sim_app
from factories import spec

from runner.api.client import DashScopeClient
from runner.api.wire import ResolvedInputs
from runner.cli import main
from runner.cli.logs import Redactor
from runner.core.errors import AmbiguousSubmitError, DownloadError, TaskRejectedError
from runner.core.tasks import MediaItem, MediaRef, TaskSpec, TaskState
from runner.journal.store import JOURNAL_NAME, Store

BASE = "https://dashscope.example/api/v1"
ESC = "\x1b"


def _client(handler: httpx.MockTransport) -> DashScopeClient:
    return DashScopeClient(httpx.AsyncClient(transport=handler, base_url=BASE), "sk-test")


@pytest.mark.anyio
@pytest.mark.virtual_time
async def test_a_video_past_its_size_cap_is_refused_with_its_real_byte_count(tmp_path: Path) -> None:
    """A video larger than the cap is not kept (no file, no .part); the task stays to be fetched,
    the run is not finished (exit 4) and the message gives the bytes seen and how to raise the cap."""
    app = sim_app("default", seed=41, video_bytes=3 * 1024 * 1024)
    batch = await run_batch(tmp_path, make_specs(1), app, max_video_mb=1)
    assert batch.summary.unfinished == 1 and batch.summary.done == 0
    assert not list((tmp_path / "videos").glob("*")) if (tmp_path / "videos").exists() else True
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        assert store.record("t0000").state is TaskState.SUCCEEDED
        error = store.events("t0000")[-1]["detail"]
    assert "cap of 1,048,576 bytes" in error and "3,145,728 bytes" in error and "--max-video-mb" in error


@pytest.mark.anyio
async def test_a_video_url_that_is_not_http_is_never_followed() -> None:
    """file://, ftp:// or a bare path given as a video URL: refused before any request."""
    seen: list[httpx.Request] = []
    client = _client(httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200)))
    for url in ("file:///etc/passwd", "ftp://host/v.mp4", "/etc/passwd"):
        with pytest.raises(DownloadError) as caught:
            async with client.stream_download(url):
                pass
        assert caught.value.refused and "not an http(s) URL" in str(caught.value)
    assert seen == []


@pytest.mark.anyio
async def test_a_task_id_that_is_a_path_is_never_used_as_one() -> None:
    """A create answered with task id `../uploads` is ambiguous; such ids are left out of the list
    and never queried or cancelled."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"output": {"task_id": "../uploads", "task_status": "PENDING"}})
        return httpx.Response(200, json={"data": [{"task_id": "../x", "status": "RUNNING"}], "total_page": 1})

    client = _client(httpx.MockTransport(handler))
    image = MediaRef("image", url="https://img.example/a.png")
    task = TaskSpec(id="a", key="k", model="wan2.6-i2v-flash", media=(MediaItem("first_frame", image),))
    with pytest.raises(AmbiguousSubmitError):
        await client.submit(task, ResolvedInputs.first_frame(image.url or ""))
    assert (await client.list_tasks()).tasks == ()
    for call in (client.query("../uploads"), client.cancel("a/../../b")):
        with pytest.raises(TaskRejectedError):
            await call


def test_escape_sequences_from_the_server_or_a_prompt_never_reach_the_terminal(tmp_path: Path) -> None:
    """`runner status` and log lines show control characters as visible escapes."""
    hostile = f"{ESC}]0;pwned{chr(7)}{ESC}[2J{ESC}[31mred"
    folder = tmp_path / "run"
    with Store.open(folder / JOURNAL_NAME) as store:
        store.add_tasks([spec("a", f"A prompt {hostile}")])
        store.set_state("a", TaskState.FAILED, error_code=f"Bad{ESC}[1m", error_message=f"Nope {hostile}")
    result = CliRunner().invoke(main, ["status", str(folder)])
    assert result.exit_code == 0, result.output
    assert ESC not in result.output and chr(7) not in result.output
    assert "\\x1b[31mred" in result.output
    assert ESC not in Redactor([]).redact(f"server said: {hostile}")


@pytest.mark.anyio
@pytest.mark.virtual_time
async def test_an_input_the_service_timed_out_downloading_is_tried_again_a_few_times(tmp_path: Path) -> None:
    """InvalidParameter.DataInspection with "timed out" is retried up to --max-attempts, then
    left failed with its code; other content refusals are not retried."""
    timing_out = spec("slow", image=MediaRef("image", url="https://timeout.invalid/a.png"))
    refused = spec("bad", image=MediaRef("image", url="https://not-an-image.example/a.png"))
    batch = await run_batch(tmp_path, [timing_out, refused], sim_app("default", seed=42), max_attempts=3)
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        slow, bad = store.record("slow"), store.record("bad")
    assert (slow.state, slow.attempts, slow.error_code) == (
        TaskState.FAILED,
        3,
        "InvalidParameter.DataInspection",
    )
    assert (bad.state, bad.attempts) == (TaskState.FAILED, 1)
    assert batch.summary.failed == 2


@pytest.mark.anyio
@pytest.mark.virtual_time
async def test_a_forbidden_task_list_does_not_stop_the_run(tmp_path: Path) -> None:
    """The key may not list tasks (403): polls fall back to each task's own query and the run
    finishes; a create whose reply was lost cannot be looked up, so it is sent again and reported."""
    faults = {
        "windows": [{"kind": "403", "start": 0, "end": 1e9, "endpoints": ["list"]}],
        "script": [{"endpoint": "create", "nth": 2, "kind": "lost_reply"}],
    }
    batch = await run_batch(tmp_path, make_specs(8), sim_app("default", seed=43, faults=faults))
    assert batch.summary.done == 8 and batch.engine.account_error is None
    assert batch.engine.workers[0].poller.list_refused
    assert len(batch.summary.possible_double_charges) == 1
    assert paid_twice(batch.ledger) == 1  # the one the summary reports
    assert_own_videos(tmp_path, batch.ledger)
