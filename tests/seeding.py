"""Build run folders for results/report/status tests: a journal seeded directly, small videos on disk.

The engine is not needed: tasks are journalled with `Store.add_tasks` and moved with
`Store.set_state`, which is what the store offers for seeding tests.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from pathlib import Path

from data.media_fixtures import png
from factories import gradient, local_png, spec

from runner.core.tasks import MediaRef, TaskState
from runner.journal.store import JOURNAL_NAME, Store

__all__ = ["FOX", "SIM_CLIP", "local_image", "minimal_mp4", "seed_run", "video_bytes"]

FOX = "A red fox runs through fresh snow"

SIM_CLIP = Path(__file__).resolve().parent.parent / "runner" / "simulator" / "assets" / "clip.mp4"


def minimal_mp4(payload: bytes = b"") -> bytes:
    """The smallest bytes that pass the MP4 signature check: an `ftyp` box, then `payload`."""
    ftyp = b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2mp41"
    return struct.pack(">I", 8 + len(ftyp)) + ftyp + payload


def video_bytes() -> bytes:
    """A real, decodable clip when the simulator's asset exists, else a signature-only MP4."""
    return SIM_CLIP.read_bytes() if SIM_CLIP.is_file() else minimal_mp4(b"\x00" * 64)


def local_image(folder: Path, name: str = "fox.png", rgb: tuple[int, int, int] = (200, 80, 40)) -> MediaRef:
    """Write a 160x90 PNG under `folder` and describe it as a local input."""
    return local_png(folder / name, 160, 90, rgb)


def seed_run(run_dir: Path, inputs_dir: Path) -> Store:
    """A run folder with one task in each interesting state; the caller closes the store."""
    fox = local_image(inputs_dir, "fox.png")
    owl = local_image(inputs_dir, "owl.png", rgb=(40, 90, 200))
    specs = [
        spec("fox-1", FOX, image=fox, seed=1, meta={"shot": "wide"}),
        spec("fox-2", '=HYPERLINK("http://x") <script>alert(1)</script>', image=fox, seed=2),
        spec("owl-1", "An owl blinks at dusk", image=owl, model="wan2.5-i2v-preview", seed=7),
        spec("owl-2", "An owl takes off", image=owl, seed=7),
        spec("remote", "A cat yawns", image=MediaRef("image", url="https://example.com/cat.jpg"), seed=7),
        spec(
            "queued",
            None,
            image=MediaRef("image", url=_data_url(png(160, 90, gradient((90, 160, 90), 160, 90)))),
            seed=7,
        ),
    ]
    store = Store.open(run_dir / JOURNAL_NAME)
    store.add_tasks(specs)
    clip = video_bytes()
    for task in ("fox-1", "fox-2", "remote"):
        _finish(store, run_dir, task, clip)
    store.set_state(
        "owl-1",
        TaskState.FAILED,
        attempts=2,
        task_id="tid-owl-1",
        error_code="DataInspectionFailed",
        error_message="Input data may contain inappropriate content.",
    )
    store.set_state("owl-2", TaskState.EXPIRED, attempts=1, task_id="tid-owl-2", error_code="VideoExpired")
    store.set_state("queued", TaskState.RUNNING, attempts=1, task_id="tid-queued")
    store.set_meta("manifest", "manifests/demo.yaml")
    store.set_meta("currency", "USD")
    return store


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _finish(store: Store, run_dir: Path, task: str, clip: bytes) -> None:
    relative = f"videos/{task}.mp4"
    path = run_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(clip)
    store.set_state(
        task,
        TaskState.DONE,
        attempts=1,
        task_id=f"tid-{task}",
        request_id=f"req-{task}",
        actual_prompt=f"Extended prompt for {task}: soft light, slow camera push.",
        submit_time="2026-11-24 21:00:01.000",
        scheduled_time="2026-11-24 21:00:02.000",
        end_time="2026-11-24 21:01:10.000",
        cost=0.25,
        video_path=relative,
        video_sha256=hashlib.sha256(clip).hexdigest(),
        video_size=len(clip),
        usage={"duration": 5, "video_count": 1},
    )
