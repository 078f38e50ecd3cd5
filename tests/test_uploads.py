"""Local files through the engine and the in-process simulator: one upload per file, renewals, failures."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from engine_helpers import SIM_BASE, run_batch, sim_app
from factories import local_png, spec
from test_audio import tone_wav

from runner.api.client import DashScopeClient
from runner.cli import main
from runner.core.endpoints import SIM_API_KEY
from runner.core.tasks import MediaRef, TaskSpec, TaskState
from runner.engine.uploads import OSS_LIFETIME_S, AssetUploader, UploadSettings
from runner.journal.rows import Asset
from runner.journal.store import JOURNAL_NAME, Store
from runner.simulator import SimConfig, create_app
from runner.simulator.clock import ManualClock

pytestmark = pytest.mark.anyio

MODEL = "wan2.6-i2v-flash"


def audio_ref(path: Path, seconds: float = 4.0) -> MediaRef:
    """A tone written at `path`, described as a local audio input."""
    data = tone_wav(path, seconds)
    return MediaRef(
        "audio", path=str(path), sha256=hashlib.sha256(data).hexdigest(), size=len(data), mime="audio/wav"
    )


def with_media(
    task: str, image: MediaRef | None = None, audio: MediaRef | None = None, model: str = MODEL
) -> TaskSpec:
    """A task using the given local image and/or audio (a remote image when none)."""
    return spec(task, model=model, image=image, track=audio)


def requests(ledger: dict[str, Any], endpoint: str) -> dict[str, int]:
    return dict(ledger["requests"].get(endpoint, {}))


def _asset(run_dir: Path, sha256: str) -> Asset | None:
    with Store.open(run_dir / JOURNAL_NAME) as store:
        return store.asset(sha256, MODEL)


async def test_one_audio_file_used_by_100_tasks_is_uploaded_once(tmp_path: Path) -> None:
    """100 tasks sharing one local WAV: one credential, one upload, every task done."""
    audio = audio_ref(tmp_path / "in" / "tone.wav")
    specs = [with_media(f"t{i:03d}", audio=audio) for i in range(100)]
    batch = await run_batch(
        tmp_path / "run", specs, sim_app("fast", seed=3), concurrency=10, submit_rate=10.0
    )
    assert batch.summary.done == 100
    assert batch.ledger["uploads"] == 1
    assert requests(batch.ledger, "upload_policy") == {"200": 1}
    assert batch.engine.workers[0].uploader.uploads == 1


async def test_concurrent_requests_for_one_file_wait_for_a_single_upload(tmp_path: Path) -> None:
    """30 tasks asking for the same file at the same instant share one upload and one URL."""
    audio = audio_ref(tmp_path / "tone.wav")
    app = sim_app("fast")
    urls: list[str] = []
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SIM_BASE) as http:
            uploader = AssetUploader(store, DashScopeClient(http, SIM_API_KEY))

            async def ask() -> None:
                urls.append(await uploader.oss_url(audio, MODEL))

            async with anyio.create_task_group() as group:
                for _ in range(30):
                    group.start_soon(ask)
    assert len(urls) == 30 and len(set(urls)) == 1 and urls[0].startswith("oss://dashscope-instant/")
    assert app.state.simulator.ledger()["uploads"] == 1


async def test_a_fresh_asset_is_reused_and_one_near_expiry_is_replaced(tmp_path: Path) -> None:
    """A later run reuses the journalled upload; within the margin of its expiry it is uploaded anew."""
    audio = audio_ref(tmp_path / "in" / "tone.wav")
    app, run_dir = sim_app("fast", seed=4), tmp_path / "run"
    first = await run_batch(run_dir, [with_media(f"a{i}", audio=audio) for i in range(3)], app)
    old = _asset(run_dir, audio.sha256 or "")
    assert first.ledger["uploads"] == 1 and old is not None
    scale = app.state.simulator.config.time_scale
    assert old.expires_at == pytest.approx(time.time() + OSS_LIFETIME_S * scale, abs=5.0)

    second = await run_batch(run_dir, [with_media(f"b{i}", audio=audio) for i in range(3)], app)
    assert second.ledger["uploads"] == 1 and second.summary.done == 6

    with Store.open(run_dir / JOURNAL_NAME) as store:  # one hour (of server time) left: inside the margin
        store.put_asset(Asset(old.sha256, MODEL, old.url, time.time() + 3600 * scale))
    third = await run_batch(run_dir, [with_media(f"c{i}", audio=audio) for i in range(3)], app)
    renewed = _asset(run_dir, audio.sha256 or "")
    assert third.ledger["uploads"] == 2 and third.summary.done == 9
    assert renewed is not None and renewed.url != old.url and renewed.expires_at > old.expires_at - 1


async def test_small_images_go_inline_and_large_ones_are_uploaded(tmp_path: Path) -> None:
    """Under the threshold a local image is a data: URL (no upload); over it, an upload with the header."""
    small = local_png(tmp_path / "in" / "small.png", rgb=(10, 10, 10))
    large = local_png(tmp_path / "in" / "large.png", 640, 480, rgb=(200, 200, 200))
    settings = UploadSettings(data_url_max=(small.size or 0) + 1)
    specs = [with_media("small", image=small), with_media("large", image=large)]
    batch = await run_batch(tmp_path / "run", specs, sim_app("fast", seed=5), uploads=settings)
    assert batch.summary.done == 2
    assert batch.ledger["uploads"] == 1
    assert _asset(tmp_path / "run", large.sha256 or "") is not None
    assert _asset(tmp_path / "run", small.sha256 or "") is None


async def test_transient_upload_failures_are_retried(tmp_path: Path) -> None:
    """A 503 from the storage host and a 500 on getPolicy are retried; the task still succeeds."""
    audio = audio_ref(tmp_path / "in" / "tone.wav")
    script = [
        {"endpoint": "upload_policy", "nth": 1, "kind": "500"},
        {"endpoint": "upload", "nth": 1, "kind": "503"},
    ]
    app = sim_app("fast", seed=6, faults={"script": script})
    batch = await run_batch(tmp_path / "run", [with_media("t", audio=audio)], app)
    assert batch.summary.done == 1
    assert requests(batch.ledger, "upload") == {"503": 1, "200": 1}
    assert requests(batch.ledger, "upload_policy") == {"500": 1, "200": 1}


async def test_an_expired_credential_is_replaced_and_the_upload_retried(tmp_path: Path) -> None:
    """A cached credential the storage host calls expired (403 Policy expired) is refetched at once."""
    first, second = audio_ref(tmp_path / "one.wav"), audio_ref(tmp_path / "two.wav", seconds=3.5)
    sim_clock = ManualClock()
    app = create_app(SimConfig.profile("fast", time_scale=1.0), clock=sim_clock)
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SIM_BASE) as http:
            uploader = AssetUploader(store, DashScopeClient(http, SIM_API_KEY))
            await uploader.oss_url(first, MODEL)
            sim_clock.advance(301.0)  # the server's credential lifetime passes; ours did not notice
            url = await uploader.oss_url(second, MODEL)
    ledger = app.state.simulator.ledger()
    assert url.startswith("oss://") and ledger["uploads"] == 2
    assert requests(ledger, "upload") == {"200": 2, "403": 1}
    assert requests(ledger, "upload_policy") == {"200": 2}


async def test_a_refused_upload_fails_its_tasks_naming_the_file(tmp_path: Path) -> None:
    """Storage refusing the file (too large) fails every task using it, once, with the file's path."""
    audio = audio_ref(tmp_path / "in" / "tone.wav")
    app = sim_app("fast", seed=7, upload_max_file_mb=0)
    batch = await run_batch(tmp_path / "run", [with_media(f"t{i}", audio=audio) for i in range(3)], app)
    assert batch.summary.failed_by_code == {"UploadFailed": 3}
    assert requests(batch.ledger, "upload") == {"400": 1}
    assert "create" not in batch.ledger["requests"]
    with Store.open(tmp_path / "run" / JOURNAL_NAME) as store:
        record = store.record("t0")
    assert record.state is TaskState.FAILED
    assert record.error_message is not None and str(tmp_path / "in" / "tone.wav") in record.error_message
    assert "EntityTooLarge" in record.error_message


async def test_a_bad_key_on_the_credential_request_stops_the_run(tmp_path: Path) -> None:
    """getPolicy answering 401 is an account error: the run stops, nothing is created or failed."""
    audio = audio_ref(tmp_path / "in" / "tone.wav")
    specs = [with_media(f"t{i}", audio=audio) for i in range(3)]
    batch = await run_batch(tmp_path / "run", specs, sim_app("fast", seed=8), api_key="sk-wrong-key")
    assert batch.summary.stopped_reason == "account"
    assert requests(batch.ledger, "upload_policy") == {"401": 1}
    assert "create" not in batch.ledger["requests"] and batch.summary.failed == 0


async def test_an_upload_unknown_to_a_new_service_is_made_again(tmp_path: Path) -> None:
    """A journalled upload a restarted service never saw is refused once, forgotten, uploaded anew."""
    audio = audio_ref(tmp_path / "in" / "tone.wav")
    run_dir = tmp_path / "run"
    first = await run_batch(run_dir, [with_media("a", audio=audio)], sim_app("fast", seed=9))
    fresh_service = sim_app("fast", seed=10)
    second = await run_batch(run_dir, [with_media(f"b{i}", audio=audio) for i in range(3)], fresh_service)
    assert first.summary.done == 1 and second.summary.done == 4 and second.summary.failed == 0
    assert second.ledger["uploads"] == 1
    assert requests(second.ledger, "create").get("400", 0) >= 1


async def test_an_upload_outage_defers_the_task_until_storage_recovers(tmp_path: Path) -> None:
    """Storage answering 503 for a while: retries run out, the task waits (not failed), then succeeds.
    The outage is the first attempts + 2 uploads (a window of server time would be 30 ms of real
    time at the fast profile's scale, and a slow start could use it up before the first upload)."""
    audio = audio_ref(tmp_path / "in" / "tone.wav")
    failing = UploadSettings().attempts + 2
    outage = [{"endpoint": "upload", "nth": n, "kind": "503"} for n in range(1, failing + 1)]
    app = sim_app("fast", seed=11, faults={"script": outage})
    batch = await run_batch(tmp_path / "run", [with_media("t", audio=audio)], app)
    assert batch.summary.done == 1 and batch.summary.failed == 0
    assert requests(batch.ledger, "upload") == {"503": failing, "200": 1}


async def test_an_upload_serves_one_model_only(tmp_path: Path) -> None:
    """Uploads are bound to a model: one file used by two models is uploaded once for each."""
    audio = audio_ref(tmp_path / "in" / "tone.wav")
    specs = [with_media(f"f{i}", audio=audio) for i in range(2)]
    specs += [with_media(f"p{i}", audio=audio, model="wan2.6-i2v") for i in range(2)]
    batch = await run_batch(tmp_path / "run", specs, sim_app("fast", seed=12))
    assert batch.summary.done == 4 and batch.ledger["uploads"] == 2


async def test_the_api_key_never_reaches_the_storage_host(tmp_path: Path) -> None:
    """Every request to the storage path arrives without Authorization; getPolicy and create carry it."""
    seen: list[tuple[str, bool]] = []
    inner = sim_app("fast", seed=13)

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            seen.append((scope["path"], b"authorization" in headers))
        await inner(scope, receive, send)

    recording.state = inner.state  # type: ignore[attr-defined]  # run_batch reads the simulator from it
    audio = audio_ref(tmp_path / "in" / "tone.wav")
    await run_batch(tmp_path / "run", [with_media("t", audio=audio)], recording)  # type: ignore[arg-type]
    storage = [auth for path, auth in seen if path.startswith("/_oss/upload")]
    assert storage == [False]
    assert all(auth for path, auth in seen if path.endswith(("/uploads", "/video-synthesis")))


def test_status_table_records_local_audio_by_path_and_hash(tmp_path: Path) -> None:
    """The demo's local audio track appears in status.csv as its copy in the run folder and its
    sha256, never its bytes."""
    demo = Path(__file__).parent.parent / "manifests" / "demo.yaml"
    args = ["run", str(demo), "--out", str(tmp_path), "--sim-time-scale", "0.005", "--no-progress"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "demo" / "status.csv").set_index("id")
    wav = demo.parent / "audio" / "beat.wav"
    digest = hashlib.sha256(wav.read_bytes()).hexdigest()
    assert frame.loc["rap-boy-noir-s1", "audio"] == f"inputs/{digest[:16]}.wav"
    assert (tmp_path / "demo" / "inputs" / f"{digest[:16]}.wav").read_bytes() == wav.read_bytes()
    assert frame.loc["rap-boy-noir-s1", "audio_sha256"] == digest
    assert frame.loc["rooftop-cat-s1", "audio"] != frame.loc["rooftop-cat-s1", "audio"]  # NaN: no audio
