"""What a task costs: the estimate, the reservation before it runs, the bill from its usage.

Prices come from the catalogue (per output second, by model, resolution tier, region
and, for wan2.6-i2v-flash, audio on or off); failed tasks cost nothing (docs/dashscope-api.md, prices).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.core.catalog import Endpoint, get_model, price_per_second
from runner.core.tasks import TaskSpec

__all__ = ["actual_cost", "reserved_cost", "task_cost"]


def task_cost(spec: TaskSpec, endpoint: Endpoint) -> float | None:
    """Estimated price of one task in the endpoint's currency (the silent price when audio=False)."""
    model = get_model(spec.model)
    if model is None:
        return None
    audio = spec.parameters.get("audio", True) is not False
    price = price_per_second(model, spec.resolution, endpoint.price_region, audio=audio)
    return None if price is None else price * spec.duration


def reserved_cost(spec: TaskSpec, endpoint: Endpoint) -> float:
    """The most this task can cost if it succeeds (0 when the catalogue has no price for it)."""
    return task_cost(spec, endpoint) or 0.0


def actual_cost(spec: TaskSpec, usage: Mapping[str, Any] | None, endpoint: Endpoint) -> float | None:
    """The bill for a succeeded task from its `usage` (seconds, SR tier, audio flag)."""
    model = get_model(spec.model)
    if model is None:
        return None
    seconds = _seconds(usage) if usage else None
    if seconds is None:
        seconds = float(spec.duration)
    tier = usage.get("SR") if usage else None
    resolution = f"{tier}P" if isinstance(tier, int | str) and str(tier).isdigit() else spec.resolution
    audio = usage.get("audio") if usage else None
    if not isinstance(audio, bool):
        audio = spec.parameters.get("audio", True) is not False
    price = price_per_second(model, resolution, endpoint.price_region, audio=audio)
    return None if price is None else round(price * seconds, 6)


def _seconds(usage: Mapping[str, Any]) -> float | None:
    for name in ("output_video_duration", "duration", "video_duration"):
        value = usage.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
