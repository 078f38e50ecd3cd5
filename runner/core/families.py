"""Model families: how a request of each kind of DashScope video model is shaped and checked.

A family is data: the shape of its create body, which inputs it takes (each a media role
with its limits), which combinations of inputs are allowed, which parameters it reads,
how its usage is billed. A model (runner.core.catalog) is a family plus its numbers:
resolutions, durations, prompt length, prices, quotas, regions. Adding a model of a known
family is a catalogue entry, not code. docs/dashscope-api.md describes each family.

Media roles are the API's own `media[].type` names; the older families' fields map onto
them: `img_url` and `first_frame_url` are a first_frame, `last_frame_url` a last_frame,
`audio_url` a driving_audio, each `reference_urls` entry a reference_image or
reference_video.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

__all__ = [
    "FAMILIES",
    "IMAGE_MIMES",
    "MEDIA_ROLES",
    "RATIOS",
    "SIZES",
    "Family",
    "MediaKind",
    "MediaRule",
    "Shape",
]

MediaKind = Literal["image", "audio", "video"]
#: img_url (legacy first frame); first_last_url (kf2v); plain (prompt, optional audio_url);
#: reference_urls (wan2.6 r2v); media (wan2.7, wan3.0, HappyHorse: input.media[])
Shape = Literal["img_url", "first_last_url", "plain", "reference_urls", "media"]

_MB: Final = 1024 * 1024
IMAGE_MIMES: Final = ("image/jpeg", "image/png", "image/bmp", "image/webp")
_AUDIO_MIMES: Final = ("audio/wav", "audio/mpeg")
_VIDEO_MIMES: Final = ("video/mp4", "video/quicktime")
#: every role a task may name, in the order they are sent and shown
MEDIA_ROLES: Final = (
    "first_frame",
    "first_clip",
    "last_frame",
    "video",
    "reference_image",
    "reference_video",
    "reference_audio",
    "driving_audio",
)
RATIOS: Final = MappingProxyType(
    {
        "wan2.7": ("16:9", "9:16", "1:1", "4:3", "3:4"),
        "wan3.0": ("adaptive", "16:9", "4:3", "1:1", "3:4", "9:16"),
        "happyhorse": ("16:9", "9:16", "1:1", "4:3", "3:4", "4:5", "5:4", "9:21", "21:9"),
    }
)
#: the `size` values of the legacy t2v and r2v families, by resolution tier
SIZES: Final = MappingProxyType(
    {
        "480P": ("832*480", "480*832", "624*624"),
        "720P": ("1280*720", "720*1280", "960*960", "1088*832", "832*1088"),
        "1080P": ("1920*1080", "1080*1920", "1440*1440", "1632*1248", "1248*1632"),
    }
)


@dataclass(frozen=True, slots=True)
class MediaRule:
    """What one input role accepts."""

    kind: MediaKind
    most: int = 1  #: how many inputs of this role a task may have
    max_bytes: int = 20 * _MB
    min_px: int = 240  #: images and videos: each side at least
    max_px: int = 8000
    min_s: float = 0.0  #: audio and videos: length
    max_s: float = 0.0
    total_s: float = 0.0  #: the most seconds of this role in all (0: no limit of its own)
    max_aspect: float = 0.0  #: images: the longer side at most this many times the shorter (0: any)
    data_url: bool = False  #: may be sent inline as a data: URL (images only)
    formats: tuple[str, ...] = ()  #: the MIME types accepted, when fewer than the kind's usual ones

    @property
    def mimes(self) -> tuple[str, ...]:
        usual = {"image": IMAGE_MIMES, "audio": _AUDIO_MIMES, "video": _VIDEO_MIMES}[self.kind]
        return self.formats or usual


def _image(
    max_mb: int = 20,
    *,
    most: int = 1,
    min_px: int = 240,
    max_aspect: float = 0.0,
    formats: tuple[str, ...] = (),
) -> MediaRule:
    return MediaRule(
        "image",
        most=most,
        max_bytes=max_mb * _MB,
        min_px=min_px,
        max_aspect=max_aspect,
        data_url=True,
        formats=formats,
    )


def _audio(min_s: float, max_s: float, *, most: int = 1, total_s: float = 0.0) -> MediaRule:
    return MediaRule("audio", most=most, max_bytes=15 * _MB, min_s=min_s, max_s=max_s, total_s=total_s)


def _video(min_s: float, max_s: float, *, most: int = 1, total_s: float = 0.0) -> MediaRule:
    return MediaRule(
        "video", most=most, max_bytes=100 * _MB, max_px=4096, min_s=min_s, max_s=max_s, total_s=total_s
    )


@dataclass(frozen=True, slots=True)
class Family:
    """One kind of request: its body's shape, its inputs, its parameters, its billing."""

    name: str
    shape: Shape
    media: Mapping[str, MediaRule] = field(default_factory=dict)
    #: the combinations of roles a task may send (None: any, within each role's `most`)
    media_sets: tuple[frozenset[str], ...] | None = None
    references: tuple[int, int] | None = None  #: (fewest, most) reference inputs in all
    #: groups of roles a task may not mix (wan3.0: frames, or references)
    exclusive: tuple[frozenset[str], ...] = ()
    prompt_required: bool = False
    prompt_or_media: bool = False  #: a prompt, some media, or both
    #: parameters it reads besides prompt_extend, watermark and seed
    parameters: frozenset[str] = frozenset({"resolution", "duration"})
    ratios: tuple[str, ...] = ()
    path: str = "video-generation"
    #: input video seconds billed too: "none", "capped" (at 5 s) or "all"
    bills_input: Literal["none", "capped", "all"] = "none"
    actual_prompt: bool = True  #: returns the rewritten prompt
    watermark_default: bool = False
    duration_with_video: int = 0  #: the longest duration when a reference video is given (0: any)

    def roles(self) -> tuple[str, ...]:
        return tuple(role for role in MEDIA_ROLES if role in self.media)


_LEGACY_I2V = Family(
    "wan2.x first-frame i2v (img_url)", "img_url", {"first_frame": _image()}, (frozenset({"first_frame"}),)
)
_LEGACY_I2V_AUDIO = Family(
    "wan2.6/2.5 first-frame i2v (img_url, audio_url)",
    "img_url",
    {"first_frame": _image(), "driving_audio": _audio(3, 30)},
    (frozenset({"first_frame"}), frozenset({"first_frame", "driving_audio"})),
    actual_prompt=False,
)
_KF2V = Family(
    "first-and-last-frame (kf2v)",
    "first_last_url",
    {"first_frame": _image(10), "last_frame": _image(10)},
    (frozenset({"first_frame"}), frozenset({"first_frame", "last_frame"})),
    path="image2video",
)
_LEGACY_T2V = Family(
    "wan2.2 text-to-video (size)",
    "plain",
    {},
    prompt_required=True,
    parameters=frozenset({"size", "duration"}),
)
_LEGACY_T2V_AUDIO = Family(
    "wan2.6/2.5 text-to-video (size, audio_url)",
    "plain",
    {"driving_audio": _audio(3, 30)},
    prompt_required=True,
    parameters=frozenset({"size", "duration"}),
)
_LEGACY_R2V = Family(
    "wan2.6 reference-to-video (reference_urls)",
    "reference_urls",
    {"reference_image": _image(most=5), "reference_video": _video(1, 30, most=3)},
    references=(1, 5),
    prompt_required=True,
    parameters=frozenset({"size", "duration"}),
    bills_input="capped",
    actual_prompt=False,
)
_WAN27_I2V = Family(
    "wan2.7 image-to-video (media)",
    "media",
    {
        "first_frame": _image(max_aspect=8),
        "last_frame": _image(max_aspect=8),
        "driving_audio": _audio(2, 30),
        "first_clip": _video(2, 10),
    },
    (
        frozenset({"first_frame"}),
        frozenset({"first_frame", "driving_audio"}),
        frozenset({"first_frame", "last_frame"}),
        frozenset({"first_frame", "last_frame", "driving_audio"}),
        frozenset({"first_clip"}),
        frozenset({"first_clip", "last_frame"}),
    ),
    actual_prompt=False,
)
_WAN27_T2V = Family(
    "wan2.7 text-to-video (resolution + ratio)",
    "plain",
    {"driving_audio": _audio(2, 30)},
    prompt_required=True,
    parameters=frozenset({"resolution", "ratio", "duration"}),
    ratios=RATIOS["wan2.7"],
    actual_prompt=False,
)
_WAN27_R2V = Family(
    "wan2.7 reference-to-video (media)",
    "media",
    {
        "reference_image": _image(most=5),
        "reference_video": _video(1, 30, most=5),
        "first_frame": _image(),
    },
    references=(1, 5),
    prompt_required=True,
    parameters=frozenset({"resolution", "ratio", "duration"}),
    ratios=RATIOS["wan2.7"],
    bills_input="capped",
    actual_prompt=False,
    duration_with_video=10,
)
_WAN27_EDIT = Family(
    "wan2.7 video editing (media)",
    "media",
    {"video": _video(2, 10), "reference_image": _image(most=4)},
    (frozenset({"video"}), frozenset({"video", "reference_image"})),
    parameters=frozenset({"resolution", "ratio", "duration", "audio_setting"}),
    ratios=RATIOS["wan2.7"],
    bills_input="all",
    actual_prompt=False,
)
_WAN30 = Family(
    "wan3.0 video (media)",
    "media",
    {
        "first_frame": _image(),
        "last_frame": _image(),
        "reference_image": _image(most=10),
        "reference_video": _video(1, 15, most=5, total_s=15),
        "reference_audio": _audio(1, 15, most=5, total_s=15),
    },
    exclusive=(
        frozenset({"first_frame", "last_frame"}),
        frozenset({"reference_image", "reference_video", "reference_audio"}),
    ),
    prompt_or_media=True,
    parameters=frozenset({"resolution", "ratio", "duration", "audio"}),
    ratios=RATIOS["wan3.0"],
    bills_input="all",
    actual_prompt=False,
)
_HAPPYHORSE_I2V = Family(
    "HappyHorse image-to-video (media)",
    "media",
    {"first_frame": _image(min_px=300, max_aspect=2.5, formats=("image/jpeg", "image/png", "image/webp"))},
    (frozenset({"first_frame"}),),
    actual_prompt=False,
    watermark_default=True,
)
_HAPPYHORSE_T2V = Family(
    "HappyHorse text-to-video (media)",
    "media",
    {},
    (frozenset(),),
    prompt_required=True,
    parameters=frozenset({"resolution", "ratio", "duration"}),
    ratios=RATIOS["happyhorse"],
    actual_prompt=False,
    watermark_default=True,
)

FAMILIES: Final = MappingProxyType(
    {
        "i2v": _LEGACY_I2V,
        "i2v-audio": _LEGACY_I2V_AUDIO,
        "kf2v": _KF2V,
        "t2v": _LEGACY_T2V,
        "t2v-audio": _LEGACY_T2V_AUDIO,
        "r2v-2.6": _LEGACY_R2V,
        "i2v-2.7": _WAN27_I2V,
        "t2v-2.7": _WAN27_T2V,
        "r2v-2.7": _WAN27_R2V,
        "edit-2.7": _WAN27_EDIT,
        "wan3.0": _WAN30,
        "happyhorse-i2v": _HAPPYHORSE_I2V,
        "happyhorse-t2v": _HAPPYHORSE_T2V,
    }
)
