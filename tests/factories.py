"""The one set of test factories: task specs, local images, data: URLs, manifest files.

Media bytes come from tests/data/media_fixtures.py (byte-exact builders); everything a test
needs to make a task or a manifest comes from here.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from data.media_fixtures import Pixel, png

from runner.core import MediaItem, MediaRef, TaskSpec, canonical_request, task_key

__all__ = ["gradient", "local_png", "png_data_url", "spec", "write_manifest"]

_NAMED: Final = "\0a scene named after the task"


def spec(
    task: str = "t",
    prompt: str | None = _NAMED,
    *,
    model: str = "wan2.6-i2v-flash",
    image: MediaRef | None = None,
    track: MediaRef | None = None,
    negative_prompt: str | None = None,
    meta: Mapping[str, str] | None = None,
    media: tuple[MediaItem, ...] | None = None,
    **params: Any,
) -> TaskSpec:
    """A task with a real content key: by default a remote first frame the simulator accepts
    unfetched, 720P, 5 s, and a prompt naming the task (None: no prompt). `track`: a driving
    audio input; `media`: the inputs in place of image and track; `params` are API parameters
    (`audio=False` among them)."""
    if media is None:
        image = image or MediaRef("image", url=f"https://img.example/{task}.png")
        media = (MediaItem("first_frame", image),) + ((MediaItem("driving_audio", track),) if track else ())
    parameters: dict[str, str | int | bool] = {"resolution": "720P", "duration": 5, **params}
    prompt = f"A scene for {task}" if prompt == _NAMED else prompt
    key = task_key(canonical_request(model, prompt, negative_prompt, media, parameters, None))
    return TaskSpec(
        id=task,
        key=key,
        model=model,
        media=media,
        prompt=prompt,
        negative_prompt=negative_prompt,
        parameters=parameters,
        meta=dict(meta or {}),
        location=f"manifest.yaml:{task}",
    )


def gradient(rgb: tuple[int, int, int], width: int, height: int) -> Pixel:
    """A diagonal gradient from `rgb` to a darker shade, so previews look like pictures."""

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        shade = 1.0 - 0.6 * (x / width + y / height) / 2
        r, g, b = (int(channel * shade) for channel in rgb)
        return r, g, b

    return pixel


def local_png(
    path: Path, width: int = 320, height: int = 240, rgb: tuple[int, int, int] = (128, 128, 128)
) -> MediaRef:
    """Write a PNG at `path` and describe it as a local input."""
    data = png(width, height, gradient(rgb, width, height))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    return MediaRef("image", path=str(path), sha256=digest, size=len(data), mime="image/png")


def png_data_url(width: int = 320, height: int = 240, *, alpha: bool = False) -> str:
    """A PNG as a base64 data: URL."""
    return "data:image/png;base64," + base64.b64encode(png(width, height, alpha=alpha)).decode()


def write_manifest(folder: Path, body: str, name: str = "m.yaml") -> Path:
    """Write a manifest file into `folder` and return its path."""
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path
