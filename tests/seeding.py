"""Build run folders for results/report/status tests: a journal seeded directly, small videos on disk.

The engine is not needed: tasks are journalled with `Store.add_tasks` and moved with
`Store.set_state`, which is what the store offers for seeding tests.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from pathlib import Path

from runner.core.tasks import MediaRef, TaskSpec, TaskState
from runner.journal.store import JOURNAL_NAME, Store

__all__ = ["SIM_CLIP", "local_image", "make_png", "make_spec", "minimal_mp4", "seed_run", "video_bytes"]

SIM_CLIP = Path(__file__).resolve().parent.parent / "runner" / "simulator" / "assets" / "clip.mp4"


def minimal_mp4(payload: bytes = b"") -> bytes:
    """The smallest bytes that pass the MP4 signature check: an `ftyp` box, then `payload`."""
    ftyp = b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2mp41"
    return struct.pack(">I", 8 + len(ftyp)) + ftyp + payload


def video_bytes() -> bytes:
    """A real, decodable clip when the simulator's asset exists, else a signature-only MP4."""
    return SIM_CLIP.read_bytes() if SIM_CLIP.is_file() else minimal_mp4(b"\x00" * 64)


def make_png(width: int = 160, height: int = 90, rgb: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    """A small valid PNG: a diagonal gradient from `rgb` to a darker shade, so previews look like pictures."""

    def pixel(x: int, y: int) -> bytes:
        shade = 1.0 - 0.6 * (x / width + y / height) / 2
        return bytes(int(channel * shade) for channel in rgb)

    raw = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def make_spec(
    task: str,
    *,
    image: MediaRef,
    prompt: str | None = "A red fox runs through fresh snow",
    model: str = "wan2.6-i2v-flash",
    seed: int | None = 7,
    meta: dict[str, str] | None = None,
) -> TaskSpec:
    """A TaskSpec whose key is derived from its id (tests do not need real content keys)."""
    parameters: dict[str, str | int | bool] = {"resolution": "720P", "duration": 5}
    if seed is not None:
        parameters["seed"] = seed
    return TaskSpec(
        id=task,
        key=hashlib.sha256(task.encode()).hexdigest(),
        model=model,
        image=image,
        prompt=prompt,
        parameters=parameters,
        meta=meta or {},
        location=f"manifest.yaml:{task}",
    )


def local_image(folder: Path, name: str = "fox.png", rgb: tuple[int, int, int] = (200, 80, 40)) -> MediaRef:
    """Write a PNG under `folder` and describe it as a local input."""
    data = make_png(rgb=rgb)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return MediaRef(
        "image", path=str(path), sha256=hashlib.sha256(data).hexdigest(), size=len(data), mime="image/png"
    )


def seed_run(run_dir: Path, inputs_dir: Path) -> Store:
    """A run folder with one task in each interesting state; the caller closes the store."""
    fox = local_image(inputs_dir, "fox.png")
    owl = local_image(inputs_dir, "owl.png", rgb=(40, 90, 200))
    specs = [
        make_spec("fox-1", image=fox, seed=1, meta={"shot": "wide"}),
        make_spec("fox-2", image=fox, seed=2, prompt='=HYPERLINK("http://x") <script>alert(1)</script>'),
        make_spec("owl-1", image=owl, model="wan2.5-i2v-preview", prompt="An owl blinks at dusk"),
        make_spec("owl-2", image=owl, prompt="An owl takes off"),
        make_spec("remote", image=MediaRef("image", url="https://example.com/cat.jpg"), prompt="A cat yawns"),
        make_spec("queued", image=MediaRef("image", url=_data_url(make_png(rgb=(90, 160, 90)))), prompt=None),
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
