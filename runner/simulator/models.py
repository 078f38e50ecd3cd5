"""The simulator's own model table (dashscope-models-2026.md), restated on purpose.

It deliberately does not import the runner's catalog: if the two drift apart, a test
that drives the runner against the simulator fails instead of both being wrong together.
Each model is a family (families.py: the body's shape and rules) plus its numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from runner.simulator.families import FAMILIES, SIZES, Family

__all__ = ["MODELS", "ModelSpec", "model_table"]


@dataclass(frozen=True)
class ModelSpec:
    """What one model accepts, how its usage is shaped, and its account quotas."""

    name: str
    family: str  #: a key of families.FAMILIES
    resolutions: tuple[str, ...]  #: resolution tiers (size families: the tiers of its sizes)
    default_resolution: str
    durations: tuple[int, ...]
    default_duration: int = 5
    audio_url: bool = False  # accepts input.audio_url
    audio_param: bool = False  # accepts parameters.audio (the wan2.6 flash models)
    shot_type: bool = False
    prompt_max: int = 800
    negative_prompt_max: int = 500
    image_max_mb: int = 10
    submit_rate: float = 2.0  # submissions per second
    concurrency: int = 2  # concurrently running tasks
    default_size: str = "1920*1080"  # size families: the size when none is sent

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            known = ", ".join(FAMILIES)
            raise ValueError(f"Unknown model family {self.family!r} for {self.name!r}; known: {known}.")

    @property
    def rules(self) -> Family:
        """The family's shape and rules."""
        return FAMILIES[self.family]

    @property
    def path_segment(self) -> str:
        """The create path's task segment: kf2v models use image2video."""
        return self.rules.segment

    def sizes(self) -> tuple[str, ...]:
        """The `size` values a size family's model allows: every size of its tiers."""
        return tuple(size for tier in self.resolutions for size in SIZES[tier])


_TWO_TO_FIFTEEN = tuple(range(2, 16))
_HD = ("720P", "1080P")
_ALL_TIERS = ("480P", "720P", "1080P")


def _five(name: str, family: str, resolutions: tuple[str, ...], durations: tuple[int, ...],
          prompt_max: int, **kw: Any) -> ModelSpec:  # fmt: skip
    """A model with the newer quota (5 submissions/s, 5 running) and 20 MB images."""
    defaults: dict[str, Any] = {"image_max_mb": 20, "default_resolution": "1080P"}
    kw = defaults | kw
    return ModelSpec(name, family, resolutions, durations=durations, prompt_max=prompt_max,
                     submit_rate=5.0, concurrency=5, **kw)  # fmt: skip


def _wan26_i2v(name: str, durations: tuple[int, ...], audio_param: bool = False) -> ModelSpec:
    return _five(name, "i2v-2.6", _HD, durations, 1500, audio_url=True, audio_param=audio_param,
                 shot_type=True)  # fmt: skip


def _wan21(name: str, resolutions: tuple[str, ...], durations: tuple[int, ...]) -> ModelSpec:
    return ModelSpec(name, "i2v-2.1", resolutions, "720P", durations)


def _kf2v(name: str, family: str, resolutions: tuple[str, ...]) -> ModelSpec:
    return ModelSpec(name, family, resolutions, "720P", (5,))


def _wan27(name: str, family: str, durations: tuple[int, ...] = _TWO_TO_FIFTEEN, **kw: Any) -> ModelSpec:
    return _five(name, family, _HD, durations, 5000, **kw)


def _wan30(name: str) -> ModelSpec:
    return _five(name, "wan3.0", _ALL_TIERS, (-1, *range(2, 31)), 20000)


def _happyhorse(name: str, family: str, resolutions: tuple[str, ...]) -> ModelSpec:
    return _five(name, family, resolutions, tuple(range(3, 16)), 5000)


_SPECS = (
    # first-frame image-to-video (img_url), wan2.6 and earlier
    _wan26_i2v("wan2.6-i2v-flash", _TWO_TO_FIFTEEN, audio_param=True),
    _wan26_i2v("wan2.6-i2v", _TWO_TO_FIFTEEN),
    _wan26_i2v("wan2.6-i2v-us", (5, 10, 15)),
    _five("wan2.5-i2v-preview", "i2v-2.5", _ALL_TIERS, (5, 10), 1500, audio_url=True),
    ModelSpec("wan2.2-i2v-flash", "i2v-2.2", _ALL_TIERS, "720P", (5,)),
    ModelSpec("wan2.2-i2v-plus", "i2v-2.2", ("480P", "1080P"), "1080P", (5,)),
    _wan21("wanx2.1-i2v-turbo", ("480P", "720P"), (3, 4, 5)),
    _wan21("wan2.1-i2v-turbo", ("480P", "720P"), (3, 4, 5)),
    _wan21("wanx2.1-i2v-plus", ("720P",), (5,)),
    _wan21("wan2.1-i2v-plus", ("720P",), (5,)),
    # first and last frame (image2video path)
    _kf2v("wan2.2-kf2v-flash", "kf2v-2.2", _ALL_TIERS),
    _kf2v("wanx2.1-kf2v-plus", "kf2v-2.1", ("720P",)),
    _kf2v("wan2.1-kf2v-plus", "kf2v-2.1", ("720P",)),
    # text-to-video with `size`, wan2.6 and earlier (resolutions: the tiers of the allowed sizes)
    _five("wan2.6-t2v", "t2v-2.6", _HD, _TWO_TO_FIFTEEN, 1500, audio_url=True, shot_type=True),
    _five("wan2.5-t2v-preview", "t2v-2.5", _ALL_TIERS, (5, 10), 1500, audio_url=True),
    ModelSpec("wan2.2-t2v-plus", "t2v-2.2", ("480P", "1080P"), "1080P", (5,)),
    # reference-to-video, wan2.6 (reference_urls, size)
    _five("wan2.6-r2v", "r2v-2.6", _HD, tuple(range(2, 11)), 1500, shot_type=True),
    _five("wan2.6-r2v-flash", "r2v-2.6", _HD, tuple(range(2, 11)), 1500, shot_type=True, audio_param=True),
    # wan2.7 (media list; t2v: prompt, audio_url, resolution + ratio)
    _wan27("wan2.7-i2v", "i2v-2.7"),
    _wan27("wan2.7-i2v-2026-04-25", "i2v-2.7"),
    _wan27("wan2.7-t2v", "t2v-2.7", audio_url=True),
    _wan27("wan2.7-r2v", "r2v-2.7"),
    _wan27("wan2.7-videoedit", "edit-2.7", (0, *range(2, 11)), default_duration=0),
    # wan3.0 (media list; duration -1: the model chooses)
    _wan30("wan3.0-video"),
    _wan30("wan3.0-video-prime"),
    # HappyHorse (media list for i2v, prompt only for t2v; 24 fps)
    _happyhorse("happyhorse-1.1-i2v", "happyhorse-i2v", _ALL_TIERS),
    _happyhorse("happyhorse-1.1-t2v", "happyhorse-t2v", _ALL_TIERS),
    _happyhorse("happyhorse-1.0-i2v", "happyhorse-i2v", _HD),
    _happyhorse("happyhorse-1.0-t2v", "happyhorse-t2v", _HD),
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
