"""Every model family end to end: a manifest plans, runs on the simulator, and the create body
the simulator received has the documented shape field by field; a wrong combination of
inputs is refused by the manifest check, before any request can be made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from engine_helpers import SIM_BASE, sim_app

from runner.api.client import DashScopeClient
from runner.core import ManifestError, TaskState
from runner.core.endpoints import ENDPOINTS, SIM_API_KEY
from runner.engine import AccountLink, Engine, EngineConfig
from runner.journal.store import JOURNAL_NAME, Store
from runner.manifest import load_manifest

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]

EXAMPLES = Path(__file__).resolve().parents[1] / "manifests"
DATA = "data:image/png;base64,"
OSS = "oss://"

#: one manifest task per family, and the `input` and `parameters` the API documents for it
#: (a data: URL stands for a small local image, oss:// for an uploaded audio or video)
FAMILIES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "i2v": (
        "{model: wan2.2-i2v-flash, prompt: a, img_url: images/bridge.png, resolution: 480P}",
        {"prompt": "a", "img_url": DATA},
        {"resolution": "480P", "duration": 5},
    ),
    "i2v-audio": (
        "{model: wan2.6-i2v-flash, prompt: a, img_url: images/bridge.png, audio_url: audio/beat.wav}",
        {"prompt": "a", "img_url": DATA, "audio_url": OSS},
        {"resolution": "1080P", "duration": 5},
    ),
    "kf2v": (
        "{model: wan2.2-kf2v-flash, prompt: a, first_frame: images/bridge.png, "
        "last_frame: images/rooftop.png}",
        {"prompt": "a", "first_frame_url": DATA, "last_frame_url": DATA},
        {"resolution": "720P", "duration": 5},
    ),
    "t2v": (
        "{model: wan2.2-t2v-plus, prompt: a, resolution: 480P}",
        {"prompt": "a"},
        {"size": "832*480", "duration": 5},
    ),
    "t2v-audio": (
        "{model: wan2.6-t2v, prompt: a, ratio: '9:16', resolution: 720P, audio_url: audio/beat.wav}",
        {"prompt": "a", "audio_url": OSS},
        {"size": "720*1280", "duration": 5},
    ),
    "r2v-2.6": (
        "{model: wan2.6-r2v-flash, prompt: a, reference_urls: [images/rooftop.png, clips/bridge-pan.mp4], "
        "audio: false}",
        {"prompt": "a", "reference_urls": [DATA, OSS]},
        {"size": "1920*1080", "duration": 5, "audio": False},
    ),
    "i2v-2.7": (
        "{model: wan2.7-i2v, prompt: a, media: [{type: first_frame, url: images/bridge.png}, "
        "{type: driving_audio, url: audio/beat.wav}]}",
        {
            "prompt": "a",
            "media": [{"type": "first_frame", "url": DATA}, {"type": "driving_audio", "url": OSS}],
        },
        {"resolution": "1080P", "duration": 5},
    ),
    "t2v-2.7": (
        "{model: wan2.7-t2v, prompt: a, size: 1280*720}",
        {"prompt": "a"},
        {"resolution": "720P", "ratio": "16:9", "duration": 5},
    ),
    "r2v-2.7": (
        "{model: wan2.7-r2v, prompt: a, reference_images: [images/rooftop.png], "
        "reference_videos: [clips/bridge-pan.mp4], duration: 6}",
        {
            "prompt": "a",
            "media": [{"type": "reference_image", "url": DATA}, {"type": "reference_video", "url": OSS}],
        },
        {"resolution": "1080P", "duration": 6},
    ),
    "edit-2.7": (
        "{model: wan2.7-videoedit, prompt: a, video: clips/bridge-pan.mp4, audio_setting: origin}",
        {"prompt": "a", "media": [{"type": "video", "url": OSS}]},
        {"resolution": "1080P", "duration": 0, "audio_setting": "origin"},
    ),
    "wan3.0": (
        "{model: wan3.0-video, prompt: a, first_frame: images/bridge.png, last_frame: images/rooftop.png, "
        "audio: false, duration: 7}",
        {"prompt": "a", "media": [{"type": "first_frame", "url": DATA}, {"type": "last_frame", "url": DATA}]},
        {"resolution": "1080P", "duration": 7, "audio": False},
    ),
    "happyhorse-i2v": (
        "{model: happyhorse-1.1-i2v, prompt: a, img_url: images/bridge.png, watermark: false}",
        {"prompt": "a", "media": [{"type": "first_frame", "url": DATA}]},
        {"resolution": "1080P", "duration": 5, "watermark": False},
    ),
    "happyhorse-t2v": (
        "{model: happyhorse-1.0-t2v, prompt: a, ratio: '21:9', resolution: 720P}",
        {"prompt": "a"},
        {"resolution": "720P", "ratio": "21:9", "duration": 5},
    ),
}

#: per family, a combination the model refuses, and what the message says
WRONG: dict[str, tuple[str, str]] = {
    "i2v": ("{model: wan2.2-i2v-flash, prompt: a}", "every task needs a first-frame image"),
    "i2v-audio": (
        "{model: wan2.6-i2v, img_url: images/bridge.png, last_frame: images/rooftop.png}",
        "wan2.6-i2v takes no last_frame",
    ),
    "kf2v": ("{model: wan2.2-kf2v-flash, last_frame_url: images/rooftop.png}", "got last_frame"),
    "t2v": ("{model: wan2.2-t2v-plus, prompt: a, audio_url: audio/beat.wav}", "takes no driving_audio"),
    "t2v-audio": ("{model: wan2.6-t2v, size: 1280*720}", "wan2.6-t2v needs a prompt"),
    "r2v-2.6": ("{model: wan2.6-r2v, prompt: a}", "needs 1 to 5 reference images and videos in all; got 0"),
    "i2v-2.7": (
        "{model: wan2.7-i2v, first_clip: clips/bridge-pan.mp4, driving_audio: audio/beat.wav}",
        "got first_clip + driving_audio",
    ),
    "t2v-2.7": (
        "{model: wan2.7-t2v, prompt: a, ratio: '21:9'}",
        "wan2.7-t2v allows 16:9, 9:16, 1:1, 4:3 or 3:4",
    ),
    "r2v-2.7": (
        "{model: wan2.7-r2v, prompt: a, reference_videos: [clips/bridge-pan.mp4], duration: 12}",
        "with a reference video, wan2.7-r2v allows at most 10 seconds",
    ),
    "edit-2.7": (
        "{model: wan2.7-videoedit, prompt: a, reference_images: [images/rooftop.png]}",
        "got reference_image",
    ),
    "wan3.0": (
        "{model: wan3.0-video, first_frame: images/bridge.png, reference_images: [images/rooftop.png]}",
        "mutually exclusive",
    ),
    "happyhorse-i2v": (
        "{model: happyhorse-1.1-i2v, img_url: images/bridge.png, ratio: '16:9'}",
        "happyhorse-1.1-i2v does not take ratio",
    ),
    "happyhorse-t2v": (
        "{model: happyhorse-1.1-t2v, prompt: a, first_frame: images/bridge.png}",
        "takes no media",
    ),
}


def _folder(tmp_path: Path, task: str) -> Path:
    """A manifest of one task beside copies of the example media."""
    folder = tmp_path / "m"
    for name in ("images", "audio", "clips"):
        shutil.copytree(EXAMPLES / name, folder / name)
    (folder / "m.yaml").write_text(f"name: fam\nendpoint: sim\ntasks:\n  - {task}\n", encoding="utf-8")
    return folder / "m.yaml"


def _shaped(value: Any) -> Any:
    """A received body with each data: and oss:// URL replaced by its scheme, as FAMILIES writes them."""
    if isinstance(value, dict):
        return {key: _shaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shaped(item) for item in value]
    if isinstance(value, str) and value.startswith(DATA):
        return DATA
    if isinstance(value, str) and value.startswith(OSS):
        return OSS
    return value


@pytest.mark.parametrize("family", list(FAMILIES))
async def test_each_family_runs_with_its_documented_body(tmp_path: Path, family: str) -> None:
    task, expected_input, expected_parameters = FAMILIES[family]
    manifest = load_manifest(_folder(tmp_path, task))
    (spec,) = manifest.specs
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/video-synthesis"):
            sent.append(request)

    app = sim_app("fast", seed=3)
    run_dir = tmp_path / "out"
    with Store.open(run_dir / JOURNAL_NAME) as store:
        store.add_tasks(manifest.specs)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=SIM_BASE, event_hooks={"request": [record]}
        ) as http:
            config = EngineConfig(concurrency=5, submit_rate=5.0, time_scale=1.0, worker_threads=False)
            engine = Engine(
                store,
                AccountLink(DashScopeClient(http, SIM_API_KEY), ENDPOINTS["sim"]),
                run_dir,
                config,
                seed=1,
            )
            summary = await engine.run()
        done = store.record(spec.id)

    assert summary.done == 1, (summary, done)
    (request,) = sent
    body = json.loads(request.content)
    segment = "image2video" if family == "kf2v" else "video-generation"
    assert request.url.path == f"/api/v1/services/aigc/{segment}/video-synthesis"
    assert body["model"] == spec.model
    assert _shaped(body["input"]) == expected_input
    assert body["parameters"] == expected_parameters
    uploads = OSS in json.dumps(_shaped(body))
    assert (request.headers.get("X-DashScope-OssResourceResolve") == "enable") == uploads
    assert done is not None and done.state is TaskState.DONE and done.cost is not None
    sidecar = json.loads((run_dir / "videos" / f"{spec.id}.json").read_text(encoding="utf-8"))
    assert [item["type"] for item in sidecar["request"]["media"]] == [item.role for item in spec.media]


@pytest.mark.parametrize("family", list(WRONG))
def test_a_wrong_combination_is_refused_before_any_request(tmp_path: Path, family: str) -> None:
    task, expected = WRONG[family]
    with pytest.raises(ManifestError) as caught:
        load_manifest(_folder(tmp_path, task))
    assert expected in str(caught.value)


def test_the_tests_cover_every_family() -> None:
    from runner.core import FAMILIES as KNOWN

    assert set(FAMILIES) == set(KNOWN) == set(WRONG)


FAST = ["--sim-time-scale", "0.002", "--no-progress"]
EXAMPLE_MANIFESTS = ("wan2.7-i2v", "kf2v", "t2v", "r2v", "videoedit", "wan3.0", "happyhorse")


@pytest.mark.parametrize("name", EXAMPLE_MANIFESTS)
def test_each_example_manifest_runs_and_its_folder_shows_every_input(tmp_path: Path, name: str) -> None:
    """The shipped example of each family runs to the end on the simulator (real time, loopback
    free), and the status table and report list each task's inputs (by their copies in the run
    folder, byte for byte) and family parameters."""
    import pandas as pd
    from click.testing import CliRunner

    from runner.cli import main

    folder = tmp_path / "m"
    for media in ("images", "audio", "clips"):
        shutil.copytree(EXAMPLES / media, folder / media)
    shutil.copyfile(EXAMPLES / f"{name}.yaml", folder / f"{name}.yaml")
    result = CliRunner().invoke(
        main, ["run", str(folder / f"{name}.yaml"), "--out", str(tmp_path / "out"), *FAST]
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "out").iterdir()
    table = pd.read_parquet(run_dir / "status.parquet")
    manifest = load_manifest(folder / f"{name}.yaml")
    for spec in manifest.specs:
        row = table[table["id"] == spec.id].iloc[0]
        assert row["state"] == "done"
        shown = " ".join(
            str(row[c]) for c in ("img", "last_frame", "first_clip", "video", "references", "audio")
        )
        for item in spec.media:
            assert item.ref.path is not None and item.ref.sha256 is not None
            suffix = Path(item.ref.path).suffix.lower().replace("jpeg", "jpg")
            copy = f"inputs/{item.ref.sha256[:16]}{suffix}"
            assert copy in shown
            assert (run_dir / copy).read_bytes() == Path(item.ref.path).read_bytes()
        for parameter in ("size", "ratio", "audio_setting"):
            expected = spec.parameters.get(parameter)
            assert (None if pd.isna(row[parameter]) else row[parameter]) == expected
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    for spec in manifest.specs:
        for item in spec.media:
            assert item.role.replace("_", " ") in page


def test_runner_models_lists_the_catalogue_and_explains_one_model() -> None:
    from click.testing import CliRunner

    from runner.cli import main

    listing = CliRunner().invoke(main, ["models"])
    assert listing.exit_code == 0
    assert "wan2.7-videoedit" in listing.output and "happyhorse-1.1-t2v" in listing.output
    one = CliRunner().invoke(main, ["models", "wan2.7-i2v"])
    assert one.exit_code == 0
    assert "accepted media sets: first_frame; first_frame + driving_audio" in one.output
    unknown = CliRunner().invoke(main, ["models", "wan2.7-iv2"])
    assert unknown.exit_code == 1
    assert "Did you mean 'wan2.7-i2v'?" in unknown.output
