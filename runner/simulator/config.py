"""Every switch of the simulator, its defaults, the named profiles and YAML loading.

The defaults imitate the documented DashScope behaviour. Where the reference leaves a
question open, the behaviour is a switch here and the default is the most plausible
reading (noted beside each field). All times, rates and windows are in simulated
seconds: at `time_scale: 0.01` a 5/s submit quota admits 500 requests per real second.

A YAML file (`runner sim serve --config sim.yaml`) names a profile and overrides any
field; nested sections merge field by field::

    profile: fast
    seed: 42
    concurrency_mode: reject          # queue (default) | reject
    validation_at: task               # submit (default) | task
    models: {wan2.6-i2v-flash: {concurrency: 10, submit_rate: 10}}
    timing: {distribution: heavy, median_s: 120}
    download_bytes_per_s: 25000000    # each video download at 25 MB per simulated second
    faults:
      http_503_rate: 0.05
      task_failure_rates: {InternalError: 0.02}
      windows: [{kind: "429", start: 60, end: 90, endpoints: [create]}]
      script: [{endpoint: create, nth: 3, kind: lost_reply}]

Endpoint names for faults: create, query, cancel, list, upload_policy, upload,
download (`*` = all). Download scripts (reset, truncate, expired) count the downloads
that reach the body.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "DEFAULT_API_KEY",
    "PROFILES",
    "FaultConfig",
    "FaultScript",
    "FaultWindow",
    "SimConfig",
    "TimingConfig",
]

DEFAULT_API_KEY = "sk-sim-local"

# Fault kinds a window or script may name; the last three apply to video downloads only.
FaultKind = Literal[
    "403", "500", "503", "504", "429", "drop", "lost_reply", "slow", "reset", "truncate", "expired"
]


@dataclass(frozen=True)
class FaultWindow:
    """A span of simulated time [start, end) during which every request to `endpoints` fails."""

    kind: FaultKind
    start: float
    end: float
    endpoints: tuple[str, ...] = ("create",)


@dataclass(frozen=True)
class FaultScript:
    """The `nth` request (1-based) to `endpoint` gets fault `kind`: for exact rehearsals."""

    endpoint: str
    nth: int
    kind: FaultKind


@dataclass(frozen=True)
class FaultConfig:
    """Injected failures. Rates are probabilities per request (or per task), drawn from the seed."""

    endpoints: tuple[str, ...] = ("*",)  # endpoint kinds the request-level rates apply to
    http_500_rate: float = 0.0
    http_503_rate: float = 0.0
    http_504_rate: float = 0.0
    drop_rate: float = 0.0  # connection closed with no usable response, request not processed
    lost_reply_rate: float = 0.0  # create processed (task exists), then the reply is lost
    #: how a lost reply reaches the client: a dropped connection, a gateway 504 (carrying the
    #: request id), or a 200 whose body is a proxy's HTML page instead of JSON
    lost_reply_mode: Literal["drop", "504", "garbled"] = "drop"
    slow_rate: float = 0.0
    slow_seconds: float = 20.0  # simulated seconds a slow response is held back
    task_failure_rates: dict[str, float] = field(default_factory=dict)  # code -> probability
    truncate_download_rate: float = 0.0  # body cut short after the headers promised more
    reset_download_rate: float = 0.0  # connection reset before any body byte
    expired_url_rate: float = 0.0  # download answered 403 AccessDenied as if expired
    windows: tuple[FaultWindow, ...] = ()
    script: tuple[FaultScript, ...] = ()


@dataclass(frozen=True)
class TimingConfig:
    """How long tasks take, in simulated seconds."""

    distribution: Literal["lognormal", "heavy", "fixed"] = "lognormal"
    median_s: float = 90.0  # for a 720P, 5 s video; other shapes are scaled from it
    sigma: float = 0.35  # log-normal shape
    heavy_tail_probability: float = 0.05  # "heavy": share of tasks drawn from a Pareto tail
    heavy_tail_alpha: float = 1.5
    dispatch_delay_s: tuple[float, float] = (0.05, 2.0)  # PENDING before a free slot takes it
    max_run_s: float = 10_800.0  # a task running longer fails with InternalError.Timeout
    #: an injected InternalError.Timeout (a `[sim-fail:…]` marker or a fault rate) fails this soon,
    #: so a rehearsal costs 3 real seconds at time scale 0.05, not the 9 minutes of max_run_s
    injected_timeout_s: float = 60.0


@dataclass(frozen=True)
class SimConfig:
    """The whole simulator configuration; build it with `SimConfig.profile(...)` or directly."""

    api_key: str | None = DEFAULT_API_KEY  # None accepts any non-empty key
    seed: int | None = None  # None: a fresh random seed per app (reported in the ledger)
    time_scale: float = 1.0  # real seconds per simulated second (0.01: 90 s task takes 0.9 s)
    epoch: float | None = None  # unix time of simulated t=0; None: wall time at app creation
    region: str = "ap-southeast-1"  # shown in task list rows (the runner bills sim like Singapore)
    utc_offset_hours: float = 8.0  # time zone of submit_time/scheduled_time/end_time strings
    timing: TimingConfig = field(default_factory=TimingConfig)
    # Quotas and model table (open questions 1 and 2 in the reference).
    concurrency_mode: Literal["queue", "reject"] = "queue"
    max_queued: int | None = None  # per model, in queue mode; None = unlimited
    burst: float | None = None  # submit bucket capacity; None = one second worth (the rate)
    task_endpoint_rate: float = 20.0
    task_rate_scope: Literal["shared", "per_endpoint"] = "shared"
    upload_policy_rate: float = 100.0
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-model overrides
    # Validation (open questions 3-6).
    validation_at: Literal["submit", "task"] = "submit"  # parameter value rules
    media_validation_at: Literal["submit", "task"] = "submit"  # unreachable / non-image inputs
    long_prompt: Literal["truncate", "reject"] = "truncate"
    image_min_px: int = 240
    image_max_px: int = 8000
    data_url_max_bytes: int = 10_485_760
    max_body_bytes: int = 2 * 1024 * 1024  # body size outside data URLs
    # Validity windows, simulated seconds (open question 8).
    task_ttl_s: float = 86_400.0
    task_expiry_from: Literal["submit", "end"] = "submit"
    url_ttl_s: float = 86_400.0  # video_url Expires = end_time + url_ttl_s
    upload_ttl_s: float = 172_800.0
    upload_policy_ttl_s: float = 300.0
    upload_max_file_mb: int = 100
    list_max_page_size: int = 100
    # Response shape switches (open questions 9 and 10).
    retry_after_header: bool = False
    request_id_header: bool = False
    cancel_unknown: Literal["unsupported", "not_found"] = "unsupported"
    download_error_format: Literal["xml", "json"] = "xml"
    # Videos.
    video_bytes: int = 64 * 1024
    # "scene": each clip shows its task's pictures and prompt (scenes.py); "plain": one clip per
    # shape for every task, for benchmarks that measure the runner rather than the encoder
    video_content: Literal["scene", "plain"] = "scene"
    download_bytes_per_s: float | None = None  # each download's speed; None: as fast as the host allows
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        rate = self.download_bytes_per_s
        if rate is not None and not rate > 0:
            msg = (
                f"download_bytes_per_s must be a positive number of bytes per second (or unset), got {rate}."
            )
            raise ValueError(msg)

    @classmethod
    def profile(cls, name: str, **overrides: Any) -> SimConfig:
        """Return the named preset with `overrides` applied (nested dicts merge into sections)."""
        if name not in PROFILES:
            known = ", ".join(sorted(PROFILES))
            raise ValueError(f"Unknown simulator profile {name!r}; choose one of: {known}.")
        return _merge(_merge(cls(), PROFILES[name]), overrides)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> SimConfig:
        """Build a config from plain data (YAML): `profile` picks the base, the rest overrides."""
        data = dict(data)
        profile = str(data.pop("profile", "default"))
        return cls.profile(profile, **data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SimConfig:
        """Load a config file; a missing file or a non-mapping document is a ValueError."""
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError(f"Simulator config {path} must be a mapping of settings, got {data!r}.")
        return cls.from_mapping(data)

    def replace(self, **overrides: Any) -> SimConfig:
        """Return a copy with `overrides` applied the same way as profiles apply them."""
        return _merge(self, overrides)


PROFILES: dict[str, dict[str, Any]] = {
    "default": {},
    "fast": {  # benchmarks: tiny videos, compressed time, small dispatch delays
        "time_scale": 0.001,
        "video_bytes": 8 * 1024,
        "timing": {"dispatch_delay_s": (0.05, 0.5)},
    },
    "chaos": {  # a realistic mix of everything that can go wrong, a few percent each
        "faults": {
            "http_500_rate": 0.02,
            "http_503_rate": 0.02,
            "http_504_rate": 0.01,
            "drop_rate": 0.02,
            "lost_reply_rate": 0.03,
            "slow_rate": 0.03,
            "task_failure_rates": {
                "InternalError": 0.03,
                "InternalError.Timeout": 0.01,
                "DataInspectionFailed": 0.02,
            },
            "truncate_download_rate": 0.03,
            "reset_download_rate": 0.02,
            "expired_url_rate": 0.01,
            "windows": [{"kind": "429", "start": 300.0, "end": 330.0, "endpoints": ["create"]}],
        },
        "timing": {"distribution": "heavy"},
    },
}

_NESTED = {"timing": TimingConfig, "faults": FaultConfig}


def _merge(config: SimConfig, overrides: dict[str, Any]) -> SimConfig:
    """Apply plain-data overrides to a config, merging the nested sections field by field."""
    known = {f.name for f in dataclasses.fields(SimConfig)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in known:
            raise ValueError(f"Unknown simulator setting {key!r}; known: {', '.join(sorted(known))}.")
        if key in _NESTED and isinstance(value, dict):
            changes[key] = _merge_section(getattr(config, key), value)
        elif key == "models" and isinstance(value, dict):
            changes[key] = {**config.models, **value}
        else:
            changes[key] = value
    return dataclasses.replace(config, **changes)


def _merge_section(section: Any, values: dict[str, Any]) -> Any:
    """Merge plain data into a TimingConfig or FaultConfig, converting lists to their types."""
    names = {f.name for f in dataclasses.fields(section)}
    unknown = sorted(set(values) - names)
    if unknown:
        kind = type(section).__name__
        raise ValueError(f"Unknown {kind} setting(s) {unknown}; known: {', '.join(sorted(names))}.")
    converted = dict(values)
    if "windows" in converted:
        converted["windows"] = tuple(_as(FaultWindow, w) for w in converted["windows"])
    if "script" in converted:
        converted["script"] = tuple(_as(FaultScript, s) for s in converted["script"])
    if "endpoints" in converted:
        converted["endpoints"] = tuple(converted["endpoints"])
    if "dispatch_delay_s" in converted:
        low, high = converted["dispatch_delay_s"]
        converted["dispatch_delay_s"] = (float(low), float(high))
    return dataclasses.replace(section, **converted)


def _as(kind: type[Any], value: Any) -> Any:
    """Turn a mapping into a FaultWindow/FaultScript (instances pass through)."""
    if isinstance(value, kind):
        return value
    value = dict(value)
    if "endpoints" in value:
        value["endpoints"] = tuple(value["endpoints"])
    if "kind" in value:
        value["kind"] = str(value["kind"])
    return kind(**value)
