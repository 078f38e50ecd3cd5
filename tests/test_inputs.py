"""The choice per local file (data: URL or upload), its checks, and what the outputs record of it."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

import httpx
import pytest
from engine_helpers import SIM_BASE, run_batch, sim_app
from factories import local_png
from test_uploads import audio_ref, with_media

from runner.api.client import DashScopeClient
from runner.core.endpoints import SIM_API_KEY
from runner.core.errors import InputFileError
from runner.core.tasks import MediaRef
from runner.engine.uploads import DATA_URL_MAX, AssetUploader, UploadSettings, carrier, resolve_inputs
from runner.journal.store import JOURNAL_NAME, Store

pytestmark = pytest.mark.anyio


def test_the_carrier_is_chosen_per_file() -> None:
    """URLs pass; local images up to the threshold go inline; bigger images and all audio are uploaded."""
    assert carrier(MediaRef("image", url="https://img.example/a.png"), DATA_URL_MAX) == "url"
    assert carrier(MediaRef("audio", url="https://snd.example/a.mp3"), DATA_URL_MAX) == "url"
    assert carrier(MediaRef("image", path="/a.png", size=DATA_URL_MAX), DATA_URL_MAX) == "data"
    assert carrier(MediaRef("image", path="/a.png", size=DATA_URL_MAX + 1), DATA_URL_MAX) == "upload"
    assert carrier(MediaRef("audio", path="/a.wav", size=10), DATA_URL_MAX) == "upload"
    assert DATA_URL_MAX == 1024 * 1024


async def test_a_small_image_becomes_a_data_url_of_its_bytes(tmp_path: Path) -> None:
    """A local PNG under the threshold is sent as data:image/png;base64 of exactly its bytes."""
    image = local_png(tmp_path / "a.png")
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_no_requests), base_url=SIM_BASE) as http:
            inputs = await resolve_inputs(with_media("a", image=image), _uploader(store, http))
    prefix = "data:image/png;base64,"
    ((role, url),) = inputs.media
    assert role == "first_frame" and url.startswith(prefix)
    assert base64.b64decode(url[len(prefix) :]) == (tmp_path / "a.png").read_bytes()


@pytest.mark.parametrize("kind", ["image", "audio"])
async def test_a_file_changed_since_planning_is_refused_before_any_request(tmp_path: Path, kind: str) -> None:
    """Whether inline or uploaded, a local file whose bytes no longer match its hash is an InputFileError."""
    image = local_png(tmp_path / "a.png")
    audio = audio_ref(tmp_path / "a.wav")
    changed = tmp_path / ("a.png" if kind == "image" else "a.wav")
    changed.write_bytes(changed.read_bytes() + b"\x00")
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_no_requests), base_url=SIM_BASE) as http:
            with pytest.raises(InputFileError, match=f"{changed} changed since the manifest was planned"):
                await resolve_inputs(with_media("a", image=image, audio=audio), _uploader(store, http))


async def test_a_vanished_file_is_named(tmp_path: Path) -> None:
    """A local audio file deleted after planning: the error names it and says what to do."""
    audio = audio_ref(tmp_path / "gone.wav")
    (tmp_path / "gone.wav").unlink()
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_no_requests), base_url=SIM_BASE) as http:
            with pytest.raises(InputFileError, match=r"gone\.wav cannot be read .*Restore it"):
                await resolve_inputs(with_media("a", audio=audio), _uploader(store, http))


async def test_outputs_record_local_paths_and_hashes_never_data_urls_or_credentials(tmp_path: Path) -> None:
    """Sidecar, status table and journal name local inputs by path (the table: of their copy) and
    sha256; no base64, no credential."""
    image = local_png(tmp_path / "in" / "a.png")
    audio = audio_ref(tmp_path / "in" / "a.wav")
    run_dir = tmp_path / "run"
    batch = await run_batch(run_dir, [with_media("t", image=image, audio=audio)], sim_app("fast", seed=2))
    assert batch.summary.done == 1 and batch.ledger["uploads"] == 1
    sidecar = json.loads((run_dir / "videos" / "t.json").read_text())
    assert sidecar["request"]["image"] == {
        "path": image.path,
        "sha256": image.sha256,
        "size": image.size,
        "mime": "image/png",
    }
    assert sidecar["request"]["audio"]["path"] == audio.path
    assert sidecar["request"]["audio"]["sha256"] == audio.sha256
    with (run_dir / "status.csv").open(newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["img"] == f"inputs/{image.sha256[:16]}.png"  # its copy, inside the run folder
    assert (run_dir / row["img"]).read_bytes() == (tmp_path / "in" / "a.png").read_bytes()
    with Store.open(run_dir / JOURNAL_NAME) as store:
        events = json.dumps(store.events())
    for text in ((run_dir / "videos" / "t.json").read_text(), (run_dir / "status.csv").read_text(), events):
        assert "base64" not in text and "data:image" not in text
        assert "Signature" not in text and "LTAI" not in text and "policy" not in text.lower()


def _uploader(store: Store, http: httpx.AsyncClient) -> AssetUploader:
    return AssetUploader(store, DashScopeClient(http, SIM_API_KEY), UploadSettings())


def _no_requests(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected, got {request.method} {request.url}")
