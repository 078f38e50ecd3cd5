"""What each model's tasks may use: submissions per second and tasks at once.

DashScope counts both per model and per account (docs/dashscope-api.md, quotas), so a run
has a quota per model: the catalogue's, or the run's limits in its place. The planner
estimates time from these; the engine keeps each model's lane within them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from runner.core import get_model
from runner.manifest import Limits

__all__ = ["Quota", "catalogue_quota", "model_quotas"]


@dataclass(frozen=True, slots=True)
class Quota:
    """What one model's tasks may use: submissions per server second, tasks at once."""

    submit_rate: float
    concurrency: int


def catalogue_quota(model: str) -> Quota:
    """The catalogue's quota of `model`; 1/s and 1 at once for a model it does not know."""
    info = get_model(model)
    return Quota(1.0, 1) if info is None else Quota(info.submit_rate, info.concurrency)


def model_quotas(models: Iterable[str], limits: Limits | None = None) -> dict[str, Quota]:
    """Each model's quota for a run: the catalogue's, with a limit given (flag or manifest)
    in place of its number; a run's limit applies to each model, as DashScope's quotas do."""
    limits = limits or Limits()
    quotas = {}
    for model in models:
        usual = catalogue_quota(model)
        own = limits.of_model(model)
        quotas[model] = Quota(own.submit_rate or usual.submit_rate, own.concurrency or usual.concurrency)
    return quotas
