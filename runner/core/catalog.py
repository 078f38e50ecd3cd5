"""Every DashScope video model runner knows: its family, numbers, prices, quotas and regions.

A model is a family (runner.core.families: the request's shape, inputs and parameters)
plus its numbers. When the provider changes a rule (allowed durations, a price, a quota),
this is the only file to edit; docs/dashscope-api.md says where the figures come from.
Prices are per output second (input video seconds too where the family bills them):
CNY in Beijing; USD elsewhere (the documented CNY at 7.33924 per USD).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from runner.core.families import FAMILIES, SIZES, Family, MediaRule

__all__ = [
    "MODELS",
    "NEGATIVE_PROMPT_MAX",
    "SEED_MAX",
    "ModelInfo",
    "estimate_generation_s",
    "get_model",
    "price_per_second",
]

SEED_MAX: Final = 2_147_483_647
NEGATIVE_PROMPT_MAX: Final = 500
_MB: Final = 1024 * 1024
_CNY_PER_USD: Final = 7.33924
_BJ_SG: Final = frozenset({"beijing", "singapore"})
_GLOBAL: Final = frozenset({"beijing", "singapore", "virginia", "frankfurt"})
_EVERYWHERE: Final = frozenset({"beijing", "singapore", "virginia", "frankfurt", "tokyo"})
_ABROAD: Final = ("singapore", "virginia", "frankfurt", "tokyo")  #: regions priced like Singapore


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What one model accepts, costs and allows."""

    name: str
    family_key: str  #: a key of runner.core.families.FAMILIES
    resolutions: tuple[str, ...]
    default_resolution: str
    durations: tuple[int, ...]
    default_duration: int
    prompt_max: int
    submit_rate: float  #: submissions per second per account
    concurrency: int  #: tasks running at once per account
    regions: frozenset[str] = _BJ_SG
    #: price per second: {region: {"720P": x, "720P/silent": y}}
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    extra: frozenset[str] = frozenset()  #: parameters of this model only: "shot_type", "audio"
    image_max_mb: int | None = None  #: in place of the family's image limit
    default_size: str | None = None  #: size families: the size sent when none is given

    @property
    def family(self) -> Family:
        return FAMILIES[self.family_key]

    def takes(self, parameter: str) -> bool:
        """Whether a request for this model may carry `parameter`."""
        common = ("prompt_extend", "watermark", "seed")
        return parameter in common or parameter in self.family.parameters or parameter in self.extra

    def rule(self, role: str) -> MediaRule | None:
        """The limits of one input role for this model, or None when it takes no such input."""
        rule = self.family.media.get(role)
        if rule is None or rule.kind != "image" or self.image_max_mb is None:
            return rule
        return dataclasses.replace(rule, max_bytes=self.image_max_mb * _MB)

    def sizes(self) -> tuple[str, ...]:
        """The `size` values a size family's model allows (its tiers' sizes)."""
        return tuple(size for tier in self.resolutions for size in SIZES[tier])

    def describe_durations(self) -> str:
        values = tuple(v for v in self.durations if v > 0)
        special = {-1: "-1 (the model chooses)", 0: "0 (as long as the input video)"}
        extra = "".join(f", or {text}" for value, text in special.items() if value in self.durations)
        if len(values) > 3 and values == tuple(range(values[0], values[-1] + 1)):
            return f"any whole number of seconds from {values[0]} to {values[-1]}{extra}"
        if len(values) == 1:
            return f"only {values[0]} seconds{extra}"
        return ", ".join(str(v) for v in values[:-1]) + f" or {values[-1]} seconds{extra}"


def _usd(cny: float) -> float:
    return round(cny / _CNY_PER_USD, 6)


def _priced(beijing: Mapping[str, float], **others: Mapping[str, float]) -> dict[str, Mapping[str, float]]:
    """Prices in Beijing (CNY) and, by region, the documented international CNY (to USD)."""
    table: dict[str, Mapping[str, float]] = {"beijing": dict(beijing)}
    for region, cny in others.items():
        table[region] = {tier: _usd(value) for tier, value in cny.items()}
    return table


_TWO_TO_FIFTEEN: Final = tuple(range(2, 16))
_HD: Final = ("720P", "1080P")
_ALL_TIERS: Final = ("480P", "720P", "1080P")
_WAN27_PRICE: Final = _priced({"720P": 0.6, "1080P": 1.0}, singapore={"720P": 0.733924, "1080P": 1.100886})
_WAN26_PRICE: Final = _priced(
    {"720P": 0.6, "1080P": 1.0},
    singapore={"720P": 0.733924, "1080P": 1.100886},
    virginia={"720P": 0.6, "1080P": 1.0},
    frankfurt={"720P": 0.6, "1080P": 1.0},
)
_WAN26_FLASH_PRICE: Final = _priced(
    {"720P": 0.30, "1080P": 0.50, "720P/silent": 0.15, "1080P/silent": 0.25},
    singapore={"720P": 0.366962, "1080P": 0.550443, "720P/silent": 0.183481, "1080P/silent": 0.275221},
)
_WAN25_PRICE: Final = _priced(
    {"480P": 0.30, "720P": 0.60, "1080P": 1.00},
    singapore={"480P": 0.366961, "720P": 0.733923, "1080P": 1.100885},
)
_WAN22_FLASH_PRICE: Final = {
    "beijing": {"480P": 0.10, "720P": 0.20, "1080P": 0.48},
    "singapore": {"480P": 0.015, "720P": 0.036},
}
_WAN22_PLUS_PRICE: Final = _priced(
    {"480P": 0.14, "1080P": 0.70}, singapore={"480P": 0.146785, "1080P": 0.733924}
)


def _worldwide(
    beijing: Mapping[str, float], abroad_cny: Mapping[str, float]
) -> dict[str, Mapping[str, float]]:
    """Prices of a model offered outside China at one international list price."""
    return _priced(beijing, **dict.fromkeys(_ABROAD, abroad_cny))


_HH11_PRICE: Final = _worldwide(
    {"480P": 0.45, "720P": 0.9, "1080P": 1.2}, {"480P": 0.524594, "720P": 1.049188, "1080P": 1.348956}
)
_HH10_PRICE: Final = _worldwide({"720P": 0.9, "1080P": 1.6}, {"720P": 1.049188, "1080P": 1.798608})
_WAN30_PRICE: Final = _worldwide(
    {"480P": 0.3, "720P": 0.6, "1080P": 1.2}, {"480P": 0.37471, "720P": 0.74942, "1080P": 1.49884}
)
_WAN30_PRIME_PRICE: Final = _worldwide(
    {"480P": 0.45, "720P": 0.9, "1080P": 1.8}, {"480P": 0.495838, "720P": 1.020844, "1080P": 2.041687}
)


def _model(
    name: str,
    family: str,
    resolutions: tuple[str, ...],
    durations: tuple[int, ...],
    quota: tuple[float, int],
    prices: Mapping[str, Mapping[str, float]],
    *,
    prompt_max: int = 800,
    regions: frozenset[str] = _BJ_SG,
    default: tuple[str, int] = ("1080P", 5),
    extra: tuple[str, ...] = (),
    image_max_mb: int | None = None,
    size: str | None = None,
) -> ModelInfo:
    """One catalogue entry; `quota` is (submissions per second, tasks at once), `default` the
    (resolution, duration) sent when a task gives none, `size` the default size of a size family."""
    return ModelInfo(
        name,
        family,
        resolutions,
        default[0],
        durations,
        default[1],
        prompt_max,
        quota[0],
        quota[1],
        regions,
        prices,
        frozenset(extra),
        image_max_mb,
        size,
    )


_2_15: Final = tuple(range(2, 16))
_2_10: Final = tuple(range(2, 11))
_FIVE: Final = (5.0, 5)
_TWO: Final = (2.0, 2)
_SHOT: Final = ("shot_type",)
_SHOT_AUDIO: Final = ("shot_type", "audio")
_1080: Final = "1920*1080"
_LEGACY_IMG: Final = 10  #: MB: the image limit of wan2.2 and earlier

# fmt: off
_MODEL_LIST: Final = (
    # -- first-frame image-to-video (img_url), wan2.6 and earlier -----------------------------------------
    _model("wan2.6-i2v-flash", "i2v-audio", _HD, _2_15, _FIVE, _WAN26_FLASH_PRICE, prompt_max=1500,
           extra=_SHOT_AUDIO),
    _model("wan2.6-i2v", "i2v-audio", _HD, _2_15, _FIVE, _WAN26_PRICE, prompt_max=1500, extra=_SHOT,
           regions=frozenset({"beijing", "singapore", "virginia"})),
    _model("wan2.6-i2v-us", "i2v-audio", _HD, (5, 10, 15), _FIVE, {"virginia": {"720P": 0.10, "1080P": 0.15}},
           prompt_max=1500, extra=_SHOT, regions=frozenset({"virginia"})),
    _model("wan2.5-i2v-preview", "i2v-audio", _ALL_TIERS, (5, 10), _FIVE, _WAN25_PRICE, prompt_max=1500),
    _model("wan2.2-i2v-flash", "i2v", _ALL_TIERS, (5,), _TWO, _WAN22_FLASH_PRICE, default=("720P", 5),
           image_max_mb=_LEGACY_IMG),
    _model("wan2.2-i2v-plus", "i2v", ("480P", "1080P"), (5,), _TWO,
           {"beijing": {"480P": 0.14, "1080P": 0.70}, "singapore": {"480P": 0.02, "1080P": 0.10}},
           image_max_mb=_LEGACY_IMG),
    _model("wanx2.1-i2v-turbo", "i2v", ("480P", "720P"), (3, 4, 5), _TWO,
           {"beijing": {"480P": 0.24, "720P": 0.24}}, regions=frozenset({"beijing"}), default=("720P", 5),
           image_max_mb=_LEGACY_IMG),
    _model("wan2.1-i2v-turbo", "i2v", ("480P", "720P"), (3, 4, 5), _TWO,
           {"singapore": {"480P": 0.036, "720P": 0.036}}, regions=frozenset({"singapore"}),
           default=("720P", 5), image_max_mb=_LEGACY_IMG),
    _model("wanx2.1-i2v-plus", "i2v", ("720P",), (5,), _TWO, {"beijing": {"720P": 0.70}},
           regions=frozenset({"beijing"}), default=("720P", 5), image_max_mb=_LEGACY_IMG),
    _model("wan2.1-i2v-plus", "i2v", ("720P",), (5,), _TWO, {"singapore": {"720P": 0.10}},
           regions=frozenset({"singapore"}), default=("720P", 5), image_max_mb=_LEGACY_IMG),
    # -- first and last frame (image2video path) -----------------------------------------------------------
    _model("wan2.2-kf2v-flash", "kf2v", _ALL_TIERS, (5,), _TWO, {"beijing": _WAN22_FLASH_PRICE["beijing"]},
           regions=frozenset({"beijing"}), default=("720P", 5)),
    _model("wanx2.1-kf2v-plus", "kf2v", ("720P",), (5,), _TWO, {"beijing": {"720P": 0.70}},
           regions=frozenset({"beijing"}), default=("720P", 5)),
    # the two references disagree on its quota (1/s and 2 at once, or 2/s and 1 at once): the lower of each
    _model("wan2.1-kf2v-plus", "kf2v", ("720P",), (5,), (1.0, 1), {"singapore": {"720P": 0.10}},
           regions=frozenset({"singapore"}), default=("720P", 5)),
    # -- text-to-video (size), wan2.6 and earlier ---------------------------------------------------------
    _model("wan2.6-t2v", "t2v-audio", _HD, _2_15, _FIVE, _WAN26_PRICE, prompt_max=1500, extra=_SHOT,
           regions=_GLOBAL, size=_1080),
    _model("wan2.5-t2v-preview", "t2v-audio", _ALL_TIERS, (5, 10), _FIVE, _WAN25_PRICE, prompt_max=1500,
           size=_1080),
    _model("wan2.2-t2v-plus", "t2v", ("480P", "1080P"), (5,), _TWO, _WAN22_PLUS_PRICE, size=_1080),
    # -- reference-to-video, wan2.6 (reference_urls) ------------------------------------------------------
    _model("wan2.6-r2v", "r2v-2.6", _HD, _2_10, _FIVE, _WAN26_PRICE, prompt_max=1500, extra=_SHOT,
           regions=_GLOBAL, size=_1080),
    _model("wan2.6-r2v-flash", "r2v-2.6", _HD, _2_10, _FIVE, _WAN26_FLASH_PRICE, prompt_max=1500,
           extra=_SHOT_AUDIO, size=_1080),
    # -- wan2.7 (media list; t2v reads resolution + ratio) ----------------------------------------------
    _model("wan2.7-i2v", "i2v-2.7", _HD, _2_15, _FIVE, _WAN27_PRICE, prompt_max=5000),
    _model("wan2.7-i2v-2026-04-25", "i2v-2.7", _HD, _2_15, _FIVE, _WAN27_PRICE, prompt_max=5000),
    _model("wan2.7-t2v", "t2v-2.7", _HD, _2_15, _FIVE, _WAN27_PRICE, prompt_max=5000),
    _model("wan2.7-r2v", "r2v-2.7", _HD, _2_15, _FIVE, _WAN27_PRICE, prompt_max=5000),
    _model("wan2.7-videoedit", "edit-2.7", _HD, (0, *_2_10), _FIVE, _WAN27_PRICE, prompt_max=5000,
           default=("1080P", 0)),
    # -- wan3.0 (media list), every region ----------------------------------------------------------------
    _model("wan3.0-video", "wan3.0", _ALL_TIERS, (-1, *range(2, 31)), _FIVE, _WAN30_PRICE, prompt_max=20000,
           regions=_EVERYWHERE),
    _model("wan3.0-video-prime", "wan3.0", _ALL_TIERS, (-1, *range(2, 31)), _FIVE, _WAN30_PRIME_PRICE,
           prompt_max=20000, regions=_EVERYWHERE),
    # -- HappyHorse (media list); 1.0 is not offered in Tokyo -----------------------------------------------
    _model("happyhorse-1.1-i2v", "happyhorse-i2v", _ALL_TIERS, tuple(range(3, 16)), _FIVE, _HH11_PRICE,
           prompt_max=5000, regions=_EVERYWHERE),
    _model("happyhorse-1.1-t2v", "happyhorse-t2v", _ALL_TIERS, tuple(range(3, 16)), _FIVE, _HH11_PRICE,
           prompt_max=5000, regions=_EVERYWHERE),
    _model("happyhorse-1.0-i2v", "happyhorse-i2v", _HD, tuple(range(3, 16)), _FIVE, _HH10_PRICE,
           prompt_max=5000,
           regions=_GLOBAL),
    _model("happyhorse-1.0-t2v", "happyhorse-t2v", _HD, tuple(range(3, 16)), _FIVE, _HH10_PRICE,
           prompt_max=5000,
           regions=_GLOBAL),
)
# fmt: on

MODELS: Final = MappingProxyType({m.name: m for m in _MODEL_LIST})


def get_model(name: str) -> ModelInfo | None:
    """The catalogue entry for `name`, or None when runner does not know the model."""
    return MODELS.get(name)


def price_per_second(model: ModelInfo, resolution: str, region: str, *, audio: bool = True) -> float | None:
    """Price of one billed second, or None when no region prices that combination.

    A region without its own price takes Singapore's (the international list price), then
    Beijing's converted to USD; the simulator is billed like Singapore.
    """
    key = resolution if audio or "audio" not in model.extra else f"{resolution}/silent"
    for source in (region, "singapore"):
        table = model.prices.get(source)
        if table is not None and key in table:
            return table[key]
    beijing = model.prices.get("beijing", {})
    if region != "beijing" and key in beijing:
        return _usd(beijing[key])
    return None


def estimate_generation_s(model: ModelInfo, resolution: str, duration: int) -> float:
    """A typical server generation time, for wall-time estimates before any history exists.

    Documented: 1-5 min typical; 73 s for 10 s/720P flash, ~130 s for 10 s/1080P.
    """
    per_second = 4.5 if resolution != "1080P" else 8.0
    base = 30.0 if model.name.endswith("flash") or "turbo" in model.name else 60.0
    return base + per_second * max(duration, 5)
