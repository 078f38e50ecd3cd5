"""Seeded randomness: per-task draws keyed by submission index, per-request fault draws.

Each task's random numbers come from a generator seeded with (seed, submission index),
and each request's fault draw from (seed, endpoint, request number), so the order in
which concurrent requests happen to be handled does not change what any task draws.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from dataclasses import dataclass

from runner.simulator.config import TimingConfig

__all__ = [
    "FAILURE_MESSAGES",
    "TaskDraw",
    "draw_task",
    "failure_message",
    "request_uniform",
    "seeded_uuid",
]

FAILURE_MESSAGES = {
    "InternalError": ("An internal error has occured, please try again later or contact service support."),
    "InternalError.Timeout": (
        "An internal timeout error has occured during execution, "
        "please try again later or contact service support."
    ),
    "InternalError.Algo": "An internal error has occured during algorithm execution.",
    "DataInspectionFailed": "Input or output data may contain inappropriate content.",
    "IPInfringementSuspect": "Input data is suspected of being involved in IP infringement.",
}

_RESOLUTION_FACTOR = {"480P": 0.6, "720P": 1.0, "1080P": 1.6}


def failure_message(code: str) -> str:
    """The wire message for a task-level failure code."""
    return FAILURE_MESSAGES.get(code, f"The task failed with {code} (simulated).")


@dataclass(frozen=True)
class TaskDraw:
    """Everything random about one task, fixed at submission."""

    dispatch_delay: float
    generation_seconds: float
    failure_code: str | None
    failure_fraction: float  # share of the generation time after which a failure shows


def _rng(seed: int, *key: object) -> random.Random:
    return random.Random(":".join(str(part) for part in (seed, *key)))


def seeded_uuid(seed: int, *key: object) -> str:
    """A UUID4-shaped id that is a pure function of the seed and the key."""
    digest = hashlib.sha256(":".join(str(p) for p in (seed, *key)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def request_uniform(seed: int, endpoint: str, number: int) -> float:
    """A uniform [0, 1) draw for the `number`-th request to `endpoint`."""
    return _rng(seed, "request", endpoint, number).random()


def draw_task(
    seed: int,
    index: int,
    timing: TimingConfig,
    resolution: str,
    duration: float,
    failure_rates: dict[str, float],
) -> TaskDraw:
    """Draw the dispatch delay, generation time and any planned failure of task `index`."""
    rng = _rng(seed, "task", index)
    low, high = timing.dispatch_delay_s
    delay = rng.uniform(low, high)
    median = timing.median_s * _RESOLUTION_FACTOR.get(resolution, 1.0) * (duration / 5) ** 0.7
    seconds = _generation_seconds(rng, timing, median)
    draw = rng.random()
    failure = None
    cumulative = 0.0
    for code in sorted(failure_rates):
        cumulative += failure_rates[code]
        if draw < cumulative:
            failure = code
            break
    return TaskDraw(delay, seconds, failure, rng.uniform(0.1, 0.9))


def _generation_seconds(rng: random.Random, timing: TimingConfig, median: float) -> float:
    """One generation time in simulated seconds from the configured distribution."""
    if timing.distribution == "fixed":
        return median
    body = math.exp(rng.gauss(math.log(median), timing.sigma))
    if timing.distribution == "heavy" and rng.random() < timing.heavy_tail_probability:
        body *= rng.paretovariate(timing.heavy_tail_alpha)
    return body
