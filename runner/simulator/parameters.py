"""The `parameters` object: which keys a model reads, and their allowed values.

Each family reads its own parameters (families.py) and a model adds `shot_type` and
`audio` through its switches. A known parameter sent to a model that does not read it is
refused like a value outside the model's matrix: the service's docs list no such key for
the model, and a client sending it has mixed up two families. Unknown keys are ignored
(the SDK passes any extra keyword into `parameters`). Every problem here is a parameter
problem: refused at submission or failing the task, according to `validation_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.simulator.errors import ParameterProblem, invalid, missing
from runner.simulator.families import size_tier
from runner.simulator.models import ModelSpec

__all__ = ["Settings", "read_parameters"]

_MAX_SEED = 2_147_483_647
_KNOWN = ("resolution", "size", "ratio", "duration", "shot_type", "audio", "audio_setting")
_COMMON = frozenset({"prompt_extend", "watermark", "seed"})


@dataclass(frozen=True)
class Settings:
    """The parameter values a request asked for, with the model's defaults filled in."""

    resolution: str  #: the tier: sent, or the tier of the sent `size`
    duration: int
    ratio: str | None  #: families with ratios: the ratio asked for (or their default)
    size: str | None  #: size families: the "W*H" asked for (or the model's default)
    audio: bool
    prompt_extend: bool


def _takes(spec: ModelSpec) -> frozenset[str]:
    """The parameters `spec` reads."""
    own = spec.rules.parameters | _COMMON
    own |= {"shot_type"} if spec.shot_type else set()
    return own | ({"audio"} if spec.audio_param else set())


def read_parameters(spec: ModelSpec, inputs: dict[str, Any], params: dict[str, Any]) -> Settings:
    """Check the per-model parameter values; raise ParameterProblem for the first bad one."""
    own = _takes(spec)
    for name in _KNOWN:
        if name not in own and params.get(name) is not None:
            readable = ", ".join(sorted(own))
            raise ParameterProblem(
                invalid(name, params[name], f"{spec.name} takes no {name} (it reads {readable})")
            )
    size = _size(spec, params) if "size" in own else None
    resolution = size_tier(size) if size is not None else _resolution(spec, params)
    assert resolution is not None  # a size of the model's list has a tier
    duration = _duration(spec, params)
    ratio = _ratio(spec, params) if "ratio" in own else None
    _flags(spec, params, own)
    extend = params.get("prompt_extend", inputs.get("extend_prompt", True))
    if not isinstance(extend, bool):
        raise ParameterProblem(missing("prompt_extend"))
    audio = bool(params.get("audio", True)) if "audio" in own else spec.audio_url
    return Settings(resolution, duration, ratio, size, audio, extend)


def _resolution(spec: ModelSpec, params: dict[str, Any]) -> str:
    resolution = params.get("resolution", spec.default_resolution)
    if resolution not in spec.resolutions:
        allowed = ", ".join(spec.resolutions)
        raise ParameterProblem(invalid("resolution", resolution, f"{spec.name} allows {allowed}"))
    return str(resolution)


def _size(spec: ModelSpec, params: dict[str, Any]) -> str:
    size = params.get("size", spec.default_size)
    if size not in spec.sizes():
        allowed = ", ".join(spec.sizes())
        raise ParameterProblem(invalid("size", size, f"{spec.name} allows {allowed}"))
    return str(size)


def _duration(spec: ModelSpec, params: dict[str, Any]) -> int:
    duration = params.get("duration", spec.default_duration)
    if isinstance(duration, bool) or not isinstance(duration, int) or duration not in spec.durations:
        allowed = ", ".join(str(d) for d in spec.durations)
        raise ParameterProblem(invalid("duration", duration, f"{spec.name} allows {allowed}"))
    return duration


def _ratio(spec: ModelSpec, params: dict[str, Any]) -> str | None:
    rules = spec.rules
    ratio = params.get("ratio", rules.default_ratio)
    if ratio is not None and ratio not in rules.ratios:
        raise ParameterProblem(invalid("ratio", ratio, f"{spec.name} allows {', '.join(rules.ratios)}"))
    return None if ratio is None else str(ratio)


def _flags(spec: ModelSpec, params: dict[str, Any], own: frozenset[str]) -> None:
    """watermark, audio, seed, shot_type and audio_setting values."""
    for flag in ("watermark", "audio"):
        if flag in params and not isinstance(params[flag], bool):
            raise ParameterProblem(invalid(flag, params[flag], "expected true or false"))
    seed = params.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED
    ):
        raise ParameterProblem(invalid("seed", seed, f"expected an integer in [0, {_MAX_SEED}]"))
    shot = params.get("shot_type")
    if "shot_type" in own and shot is not None and shot not in ("single", "multi"):
        raise ParameterProblem(invalid("shot_type", shot, "expected single or multi"))
    setting = params.get("audio_setting")
    if "audio_setting" in own and setting is not None and setting not in ("auto", "origin"):
        raise ParameterProblem(invalid("audio_setting", setting, "expected auto or origin"))
