"""The simulator's own model table (docs/dashscope-api.md), restated on purpose.

It deliberately does not import the runner's catalog: if the two drift apart, a test
that drives the runner against the simulator fails instead of both being wrong together.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["MODELS", "ModelSpec", "model_table"]

Family = Literal["wan2.6", "wan2.5", "wan2.2", "wan2.1"]


@dataclass(frozen=True)
class ModelSpec:
    """What one model accepts, how its usage is shaped, and its account quotas."""

    name: str
    family: Family
    kind: Literal["i2v", "kf2v"]
    resolutions: tuple[str, ...]
    default_resolution: str
    durations: tuple[int, ...]
    default_duration: int = 5
    audio_url: bool = False  # accepts input.audio_url
    audio_param: bool = False  # accepts parameters.audio (wan2.6-i2v-flash only)
    shot_type: bool = False
    prompt_max: int = 800
    negative_prompt_max: int = 500
    image_max_mb: int = 10
    submit_rate: float = 2.0  # submissions per second
    concurrency: int = 2  # concurrently running tasks

    @property
    def path_segment(self) -> str:
        """The create path's task segment: kf2v models use image2video."""
        return "image2video" if self.kind == "kf2v" else "video-generation"

    @property
    def image_field(self) -> str:
        """The input field holding the required image."""
        return "first_frame_url" if self.kind == "kf2v" else "img_url"


_TWO_TO_FIFTEEN = tuple(range(2, 16))


def _wan26(name: str, durations: tuple[int, ...], audio_param: bool = False) -> ModelSpec:
    return ModelSpec(
        name, "wan2.6", "i2v", ("720P", "1080P"), "1080P", durations, audio_url=True,
        audio_param=audio_param, shot_type=True, prompt_max=1500, image_max_mb=20,
        submit_rate=5.0, concurrency=5,
    )  # fmt: skip


def _wan21(name: str, resolutions: tuple[str, ...], durations: tuple[int, ...]) -> ModelSpec:
    return ModelSpec(name, "wan2.1", "i2v", resolutions, "720P", durations)


def _kf2v(name: str, family: Family, resolutions: tuple[str, ...]) -> ModelSpec:
    return ModelSpec(name, family, "kf2v", resolutions, "720P", (5,))


_SPECS = (
    _wan26("wan2.6-i2v-flash", _TWO_TO_FIFTEEN, audio_param=True),
    _wan26("wan2.6-i2v", _TWO_TO_FIFTEEN),
    _wan26("wan2.6-i2v-us", (5, 10, 15)),
    ModelSpec(
        "wan2.5-i2v-preview",
        "wan2.5",
        "i2v",
        ("480P", "720P", "1080P"),
        "1080P",
        (5, 10),
        audio_url=True,
        prompt_max=1500,
        image_max_mb=20,
        submit_rate=5.0,
        concurrency=5,
    ),
    ModelSpec("wan2.2-i2v-flash", "wan2.2", "i2v", ("480P", "720P", "1080P"), "720P", (5,)),
    ModelSpec("wan2.2-i2v-plus", "wan2.2", "i2v", ("480P", "1080P"), "1080P", (5,)),
    _wan21("wanx2.1-i2v-turbo", ("480P", "720P"), (3, 4, 5)),
    _wan21("wan2.1-i2v-turbo", ("480P", "720P"), (3, 4, 5)),
    _wan21("wanx2.1-i2v-plus", ("720P",), (5,)),
    _wan21("wan2.1-i2v-plus", ("720P",), (5,)),
    _kf2v("wan2.2-kf2v-flash", "wan2.2", ("480P", "720P", "1080P")),
    _kf2v("wanx2.1-kf2v-plus", "wan2.1", ("720P",)),
    _kf2v("wan2.1-kf2v-plus", "wan2.1", ("720P",)),
)

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


def model_table(overrides: dict[str, dict[str, Any]]) -> dict[str, ModelSpec]:
    """The built-in table with per-model overrides applied; an override may add a model."""
    table = dict(MODELS)
    for name, changes in overrides.items():
        changes = {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}
        known = {f.name for f in dataclasses.fields(ModelSpec)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(
                f"Unknown model setting(s) {unknown} for {name!r}; known: {', '.join(sorted(known))}."
            )
        if name in table:
            table[name] = dataclasses.replace(table[name], **changes)
        else:
            table[name] = ModelSpec(name=name, **changes)
    return table
