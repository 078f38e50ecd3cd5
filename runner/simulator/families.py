"""Request families: how each kind of model's create body is shaped and what it may contain.

A model (models.py) is a family plus its numbers. The family says which input fields or
`media[]` types the body carries and in which combinations, which parameters it reads, how
its `usage` is shaped and billed, and whether it returns `actual_prompt`. The figures come
from the reference (dashscope-models-2026.md, dashscope-video-api.md), restated here on
purpose rather than imported from the runner, so that a drift between the two fails a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AUDIO_TYPES",
    "FAMILIES",
    "FRAMES",
    "IMAGE_TYPES",
    "MEDIA_TYPES",
    "RATIOS",
    "REFERENCES",
    "SIZES",
    "VIDEO_TYPES",
    "Family",
    "size_tier",
]

#: img_url: legacy first frame; first_last: kf2v; plain: prompt (+ audio_url);
#: reference_urls: wan2.6 r2v; media: wan2.7, wan3.0, HappyHorse i2v (`input.media[]`)
Shape = Literal["img_url", "first_last", "plain", "reference_urls", "media"]
#: tier: {duration, SR, video_count}; wan2.1: {video_duration, video_ratio, video_count};
#: wan2.6: integer seconds with input/output split; media: float seconds plus fps and ratio
UsageStyle = Literal["tier", "wan2.1", "wan2.6", "media"]

MEDIA_TYPES = (
    "first_frame",
    "last_frame",
    "first_clip",
    "video",
    "reference_image",
    "reference_video",
    "reference_audio",
    "driving_audio",
)
IMAGE_TYPES = frozenset({"first_frame", "last_frame", "reference_image"})
AUDIO_TYPES = frozenset({"driving_audio", "reference_audio"})
VIDEO_TYPES = frozenset({"first_clip", "video", "reference_video"})
FRAMES = frozenset({"first_frame", "last_frame"})
REFERENCES = frozenset({"reference_image", "reference_video", "reference_audio"})

_WAN27_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
RATIOS: Mapping[str, tuple[str, ...]] = {
    "wan2.7": _WAN27_RATIOS,
    "wan3.0": ("adaptive", "16:9", "4:3", "1:1", "3:4", "9:16"),
    "happyhorse": ("16:9", "9:16", "1:1", "4:3", "3:4", "4:5", "5:4", "9:21", "21:9"),
}
#: the legacy `size` values ("W*H") by resolution tier
SIZES: Mapping[str, tuple[str, ...]] = {
    "480P": ("832*480", "480*832", "624*624"),
    "720P": ("1280*720", "720*1280", "960*960", "1088*832", "832*1088"),
    "1080P": ("1920*1080", "1080*1920", "1440*1440", "1632*1248", "1248*1632"),
}


def size_tier(size: str) -> str | None:
    """The resolution tier a legacy `size` value belongs to, or None for an unknown size."""
    return next((tier for tier, sizes in SIZES.items() if size in sizes), None)


@dataclass(frozen=True)
class Family:
    """One kind of create request: its body's shape, its inputs, its parameters, its usage."""

    key: str
    shape: Shape
    usage: UsageStyle
    #: the parameters it reads besides prompt_extend, watermark and seed (a model adds
    #: shot_type and audio through its own switches)
    parameters: frozenset[str] = frozenset({"resolution", "duration"})
    #: media types it takes (media and reference_urls shapes) and how many of each
    most: Mapping[str, int] = field(default_factory=dict)
    #: the combinations of types a request may send (empty: any, within `most`)
    media_sets: tuple[frozenset[str], ...] = ()
    references: tuple[int, int] | None = None  #: (fewest, most) reference images + videos
    exclusive: bool = False  #: first/last frames cannot be mixed with references (wan3.0)
    prompt: Literal["optional", "required", "or_media"] = "optional"
    ratios: tuple[str, ...] = ()
    default_ratio: str | None = None  #: None: the output follows the input's aspect
    segment: str = "video-generation"  #: the create path's task segment
    actual_prompt: bool = False  #: returns the rewritten prompt when prompt_extend is on
    bills_input: Literal["none", "capped", "all"] = "none"  #: input video seconds billed too
    fps: int = 30
    #: the length range of each video type, checked when the simulator can read the video
    clip_seconds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    video_total_s: float = 0.0  #: the most reference video seconds in all (0: no limit)
    image_min_px: int = 0  #: the family's own smallest image side (0: the configured one)
    image_max_aspect: float = 0.0  #: the longer image side at most this many times the shorter
    duration_with_video: int = 0  #: the longest duration with a reference video (0: any)
    reference_voice: bool = False  #: media items may carry a `reference_voice` audio URL
    frame_over_ratio: bool = False  #: a first_frame sets the aspect, the ratio is ignored


_SIZE_PARAMETERS = frozenset({"size", "duration"})
_RATIO_PARAMETERS = frozenset({"resolution", "ratio", "duration"})
_FIRST_FRAME_ONLY = (frozenset({"first_frame"}),)
_WAN27_I2V_SETS = (
    frozenset({"first_frame"}),
    frozenset({"first_frame", "driving_audio"}),
    frozenset({"first_frame", "last_frame"}),
    frozenset({"first_frame", "last_frame", "driving_audio"}),
    frozenset({"first_clip"}),
    frozenset({"first_clip", "last_frame"}),
)

_FAMILY_LIST = (
    Family("i2v-2.6", "img_url", "wan2.6"),
    Family("i2v-2.5", "img_url", "tier", actual_prompt=True),
    Family("i2v-2.2", "img_url", "tier", actual_prompt=True),
    Family("i2v-2.1", "img_url", "wan2.1", actual_prompt=True),
    Family("kf2v-2.2", "first_last", "tier", actual_prompt=True, segment="image2video"),
    Family("kf2v-2.1", "first_last", "wan2.1", actual_prompt=True, segment="image2video"),
    Family("t2v-2.6", "plain", "wan2.6", _SIZE_PARAMETERS, prompt="required"),
    Family("t2v-2.5", "plain", "tier", _SIZE_PARAMETERS, prompt="required", actual_prompt=True),
    Family("t2v-2.2", "plain", "tier", _SIZE_PARAMETERS, prompt="required", actual_prompt=True),
    Family(
        "r2v-2.6", "reference_urls", "wan2.6", _SIZE_PARAMETERS,
        most={"reference_image": 5, "reference_video": 3}, references=(1, 5), prompt="required",
        bills_input="capped", clip_seconds={"reference_video": (1.0, 30.0)},
    ),
    Family(
        "i2v-2.7", "media", "media",
        most={"first_frame": 1, "last_frame": 1, "driving_audio": 1, "first_clip": 1},
        media_sets=_WAN27_I2V_SETS, clip_seconds={"first_clip": (2.0, 10.0)}, image_max_aspect=8.0,
    ),
    Family(
        "t2v-2.7", "plain", "media", _RATIO_PARAMETERS, prompt="required",
        ratios=_WAN27_RATIOS, default_ratio="16:9",
    ),
    Family(
        "r2v-2.7", "media", "media", _RATIO_PARAMETERS,
        most={"reference_image": 5, "reference_video": 5, "first_frame": 1}, references=(1, 5),
        prompt="required", ratios=_WAN27_RATIOS, default_ratio="16:9", bills_input="capped",
        clip_seconds={"reference_video": (1.0, 30.0)}, duration_with_video=10, reference_voice=True,
        frame_over_ratio=True,
    ),
    Family(
        "edit-2.7", "media", "media", _RATIO_PARAMETERS | {"audio_setting"},
        most={"video": 1, "reference_image": 4},
        media_sets=(frozenset({"video"}), frozenset({"video", "reference_image"})),
        ratios=_WAN27_RATIOS, bills_input="all", clip_seconds={"video": (2.0, 10.0)},
    ),
    Family(
        "wan3.0", "media", "media", _RATIO_PARAMETERS | {"audio"},
        most={"first_frame": 1, "last_frame": 1, "reference_image": 10, "reference_video": 5,
              "reference_audio": 5},
        exclusive=True, prompt="or_media", ratios=RATIOS["wan3.0"], default_ratio="adaptive",
        bills_input="all", clip_seconds={"reference_video": (1.0, 15.0)}, video_total_s=15.0,
    ),
    Family(
        "happyhorse-i2v", "media", "media", most={"first_frame": 1}, media_sets=_FIRST_FRAME_ONLY,
        fps=24, image_min_px=300, image_max_aspect=2.5,
    ),
    Family(
        "happyhorse-t2v", "plain", "media", _RATIO_PARAMETERS, prompt="required",
        ratios=RATIOS["happyhorse"], default_ratio="16:9", fps=24,
    ),
)  # fmt: skip

FAMILIES: Mapping[str, Family] = {family.key: family for family in _FAMILY_LIST}
