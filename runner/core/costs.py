"""What a task costs: the estimate, the reservation before it runs, the bill from its usage.

Prices come from the catalogue (per billed second, by model, resolution tier, region and,
for the flash models with an `audio` switch, with or without sound). A family that bills
input video adds its seconds: wan2.7 r2v at most 5 of them, video editing and wan3.0 all.
A video of unknown length (a remote URL) is estimated at its longest allowed length, so a
reservation is never below the bill. Failed tasks cost nothing (docs/dashscope-api.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from runner.core.catalog import ModelInfo, get_model, price_per_second
from runner.core.endpoints import Endpoint
from runner.core.tasks import MediaItem, TaskSpec

__all__ = ["actual_cost", "billed_seconds", "reserved_cost", "task_cost"]

_CAPPED_INPUT_S: Final = 5.0
_BILLED_INPUTS: Final = ("video", "reference_video")  #: input roles whose seconds may be billed


def task_cost(spec: TaskSpec, endpoint: Endpoint) -> float | None:
    """Estimated price of one task in the endpoint's currency (the silent price when audio=False)."""
    model = get_model(spec.model)
    if model is None:
        return None
    audio = spec.parameters.get("audio", True) is not False
    price = price_per_second(model, spec.resolution, endpoint.price_region, audio=audio)
    return None if price is None else round(price * billed_seconds(spec, model), 6)


def reserved_cost(spec: TaskSpec, endpoint: Endpoint) -> float:
    """The most this task can cost if it succeeds (0 when the catalogue has no price for it)."""
    return task_cost(spec, endpoint) or 0.0


def billed_seconds(spec: TaskSpec, model: ModelInfo) -> float:
    """The seconds a task of `model` is billed for, at most: output plus input video."""
    output = float(spec.duration)
    if output < 0:  # wan3.0's -1: the model chooses, up to its longest
        output = float(max(model.durations))
    input_s = sum(_seconds_of(model, item) for item in spec.media if item.role in _BILLED_INPUTS)
    if output == 0:  # video editing's 0: as long as the input video
        output = input_s
    bills = model.family.bills_input
    if bills == "capped":
        return output + min(_CAPPED_INPUT_S, input_s)
    return output + input_s if bills == "all" else output


def actual_cost(spec: TaskSpec, usage: Mapping[str, Any] | None, endpoint: Endpoint) -> float | None:
    """The bill for a succeeded task from its `usage` (billed seconds, SR tier, audio flag)."""
    model = get_model(spec.model)
    if model is None:
        return None
    seconds = _usage_seconds(usage) if usage else None
    if seconds is None:
        seconds = billed_seconds(spec, model)
    tier = usage.get("SR") if usage else None
    resolution = f"{tier}P" if isinstance(tier, int | str) and str(tier).isdigit() else spec.resolution
    audio = usage.get("audio") if usage else None
    if not isinstance(audio, bool):
        audio = spec.parameters.get("audio", True) is not False
    price = price_per_second(model, resolution, endpoint.price_region, audio=audio)
    return None if price is None else round(price * seconds, 6)


def _seconds_of(model: ModelInfo, item: MediaItem) -> float:
    """An input video's length, or the longest its role allows when it is not known (a URL)."""
    if item.ref.seconds is not None:
        return item.ref.seconds
    rule = model.rule(item.role)
    return rule.max_s if rule is not None else 0.0


def _usage_seconds(usage: Mapping[str, Any]) -> float | None:
    """The billed seconds: `duration` (input and output) where usage has it, else the output's."""
    for name in ("duration", "output_video_duration", "video_duration"):
        value = usage.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
