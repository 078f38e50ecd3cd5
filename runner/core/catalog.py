"""Per-model and per-region facts of DashScope, in one place: parameters, quotas, media
limits, regions and prices (docs/dashscope-api.md says where each comes from).

When the provider changes a rule (allowed durations, a price, a quota), this is the
only file to edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from runner.core.errors import ConfigError

__all__ = [
    "ENDPOINTS",
    "MODELS",
    "NEGATIVE_PROMPT_MAX",
    "SEED_MAX",
    "SIM_API_KEY",
    "Endpoint",
    "ModelInfo",
    "estimate_generation_s",
    "get_model",
    "price_per_second",
    "resolve_endpoint",
]

SEED_MAX: Final = 2_147_483_647
NEGATIVE_PROMPT_MAX: Final = 500
SIM_API_KEY: Final = "sk-sim-local"  #: the key the built-in simulator accepts
_MB: Final = 1024 * 1024
_CNY_PER_USD: Final = 7.33924  # the factor behind every international price (docs/dashscope-api.md, prices)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where requests go and how cost is counted there."""

    name: str  #: "sim", "beijing", "singapore", "virginia" or "custom"
    base_url: str  #: ends in /api/v1; "sim" means the in-process simulator
    price_region: str  #: which price column applies
    currency: str

    @property
    def is_simulator(self) -> bool:
        return self.name == "sim"

    @property
    def identity(self) -> str:
        """Which service's tasks this endpoint reaches: the region's name, `sim` for the built-in
        simulator, `loopback` for any local server (a `runner sim serve` changes port), or the
        host of another base URL. A run folder holds one identity's tasks."""
        if self.name != "custom":
            return self.name
        host = urlsplit(self.base_url).hostname or ""
        return "loopback" if host in _LOOPBACK_HOSTS or host.startswith("127.") else host


ENDPOINTS: Final = MappingProxyType(
    {
        "sim": Endpoint("sim", "http://sim.local/api/v1", "singapore", "USD"),
        "beijing": Endpoint("beijing", "https://dashscope.aliyuncs.com/api/v1", "beijing", "CNY"),
        "singapore": Endpoint("singapore", "https://dashscope-intl.aliyuncs.com/api/v1", "singapore", "USD"),
        "virginia": Endpoint("virginia", "https://dashscope-us.aliyuncs.com/api/v1", "virginia", "USD"),
    }
)

_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def resolve_endpoint(value: str | None) -> Endpoint:
    """An endpoint name or base URL → Endpoint; plain http is allowed only on loopback."""
    name = (value or "sim").strip()
    if name in ENDPOINTS:
        return ENDPOINTS[name]
    parts = urlsplit(name)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        known = ", ".join(ENDPOINTS)
        msg = f"Endpoint {name!r} is neither a known region ({known}) nor an http(s) URL."
        raise ConfigError(msg)
    host = parts.hostname
    loopback = host in _LOOPBACK_HOSTS or host.startswith("127.")
    if parts.scheme == "http" and not loopback:
        msg = (
            f"Endpoint {name!r} uses plain http to a non-loopback host; the API key would travel "
            "unencrypted. Use https, or http only for 127.0.0.1/localhost (e.g. `runner sim serve`)."
        )
        raise ConfigError(msg)
    base = name.rstrip("/")
    if not base.endswith("/api/v1"):
        base += "/api/v1"
    region = "beijing" if "dashscope.aliyuncs.com" in host else "singapore"
    currency = "CNY" if region == "beijing" else "USD"
    return Endpoint("custom", base, region, currency)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What one first-frame image-to-video model accepts, costs and allows."""

    name: str
    resolutions: tuple[str, ...]
    default_resolution: str
    durations: tuple[int, ...]
    default_duration: int
    prompt_max: int
    image_max_bytes: int
    submit_rate: float  #: submissions per second per account (docs/dashscope-api.md)
    concurrency: int  #: concurrent tasks per account
    takes_audio_url: bool = False
    takes_audio_param: bool = False  #: the `audio` on/off switch (wan2.6-i2v-flash only)
    takes_shot_type: bool = False
    returns_actual_prompt: bool = True
    regions: frozenset[str] = frozenset({"beijing", "singapore"})
    #: price per output second: {region: {"720P": x, "720P/silent": y}}
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    image_min_px: int = 240
    image_max_px: int = 8000

    def describe_durations(self) -> str:
        values = self.durations
        if len(values) > 3 and values == tuple(range(values[0], values[-1] + 1)):
            return f"any whole number of seconds from {values[0]} to {values[-1]}"
        if len(values) == 1:
            return f"only {values[0]} seconds"
        return ", ".join(str(v) for v in values[:-1]) + f" or {values[-1]} seconds"


def _usd(cny: float) -> float:
    return round(cny / _CNY_PER_USD, 6)


_WAN26_SHARED = {
    "resolutions": ("720P", "1080P"),
    "default_resolution": "1080P",
    "default_duration": 5,
    "prompt_max": 1500,
    "image_max_bytes": 20 * _MB,
    "submit_rate": 5.0,
    "concurrency": 5,
    "takes_audio_url": True,
    "takes_shot_type": True,
    "returns_actual_prompt": False,
}

_MODEL_LIST: Final = (
    ModelInfo(
        name="wan2.6-i2v-flash",
        durations=tuple(range(2, 16)),
        takes_audio_param=True,
        prices={
            "beijing": {"720P": 0.30, "1080P": 0.50, "720P/silent": 0.15, "1080P/silent": 0.25},
            "singapore": {
                "720P": 0.05,
                "1080P": 0.075,
                "720P/silent": 0.025,
                "1080P/silent": 0.0375,
            },
        },
        **_WAN26_SHARED,  # type: ignore[arg-type]
    ),
    ModelInfo(
        name="wan2.6-i2v",
        durations=tuple(range(2, 16)),
        regions=frozenset({"beijing", "singapore", "virginia"}),
        prices={
            "beijing": {"720P": 0.60, "1080P": 1.00},
            "singapore": {"720P": 0.10, "1080P": 0.15},
            "virginia": {"720P": _usd(0.60), "1080P": _usd(1.00)},
        },
        **_WAN26_SHARED,  # type: ignore[arg-type]
    ),
    ModelInfo(
        name="wan2.6-i2v-us",
        durations=(5, 10, 15),
        regions=frozenset({"virginia"}),
        prices={"virginia": {"720P": 0.10, "1080P": 0.15}},
        **_WAN26_SHARED,  # type: ignore[arg-type]
    ),
    ModelInfo(
        name="wan2.5-i2v-preview",
        resolutions=("480P", "720P", "1080P"),
        default_resolution="1080P",
        durations=(5, 10),
        default_duration=5,
        prompt_max=1500,
        image_max_bytes=20 * _MB,
        submit_rate=5.0,
        concurrency=5,
        takes_audio_url=True,
        prices={
            "beijing": {"480P": 0.30, "720P": 0.60, "1080P": 1.00},
            "singapore": {"480P": 0.05, "720P": 0.10, "1080P": 0.15},
        },
    ),
    ModelInfo(
        name="wan2.2-i2v-flash",
        resolutions=("480P", "720P", "1080P"),
        default_resolution="720P",
        durations=(5,),
        default_duration=5,
        prompt_max=800,
        image_max_bytes=10 * _MB,
        submit_rate=2.0,
        concurrency=2,
        prices={
            "beijing": {"480P": 0.10, "720P": 0.20, "1080P": 0.48},
            "singapore": {"480P": 0.015, "720P": 0.036},
        },
    ),
    ModelInfo(
        name="wan2.2-i2v-plus",
        resolutions=("480P", "1080P"),
        default_resolution="1080P",
        durations=(5,),
        default_duration=5,
        prompt_max=800,
        image_max_bytes=10 * _MB,
        submit_rate=2.0,
        concurrency=2,
        prices={
            "beijing": {"480P": 0.14, "1080P": 0.70},
            "singapore": {"480P": 0.02, "1080P": 0.10},
        },
    ),
    ModelInfo(
        name="wanx2.1-i2v-turbo",
        resolutions=("480P", "720P"),
        default_resolution="720P",
        durations=(3, 4, 5),
        default_duration=5,
        prompt_max=800,
        image_max_bytes=10 * _MB,
        submit_rate=2.0,
        concurrency=2,
        regions=frozenset({"beijing"}),
        prices={"beijing": {"480P": 0.24, "720P": 0.24}},
    ),
    ModelInfo(
        name="wan2.1-i2v-turbo",
        resolutions=("480P", "720P"),
        default_resolution="720P",
        durations=(3, 4, 5),
        default_duration=5,
        prompt_max=800,
        image_max_bytes=10 * _MB,
        submit_rate=2.0,
        concurrency=2,
        regions=frozenset({"singapore"}),
        prices={"singapore": {"480P": 0.036, "720P": 0.036}},
    ),
    ModelInfo(
        name="wanx2.1-i2v-plus",
        resolutions=("720P",),
        default_resolution="720P",
        durations=(5,),
        default_duration=5,
        prompt_max=800,
        image_max_bytes=10 * _MB,
        submit_rate=2.0,
        concurrency=2,
        regions=frozenset({"beijing"}),
        prices={"beijing": {"720P": 0.70}},
    ),
    ModelInfo(
        name="wan2.1-i2v-plus",
        resolutions=("720P",),
        default_resolution="720P",
        durations=(5,),
        default_duration=5,
        prompt_max=800,
        image_max_bytes=10 * _MB,
        submit_rate=2.0,
        concurrency=2,
        regions=frozenset({"singapore"}),
        prices={"singapore": {"720P": 0.10}},
    ),
)

MODELS: Final = MappingProxyType({m.name: m for m in _MODEL_LIST})


def get_model(name: str) -> ModelInfo | None:
    """The catalogue entry for `name`, or None when the model is not a known i2v model."""
    return MODELS.get(name)


def price_per_second(model: ModelInfo, resolution: str, region: str, *, audio: bool = True) -> float | None:
    """Price of one output second, or None when the region does not price that combination.

    The simulator is billed like Singapore; a model only priced in Beijing is converted.
    """
    key = resolution if audio or not model.takes_audio_param else f"{resolution}/silent"
    table = model.prices.get(region)
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
    return base + per_second * duration
