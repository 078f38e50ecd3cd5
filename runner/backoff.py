"""How long a task waits after its create was refused before anything was created.

A refusal (a 429, a 5xx before acceptance, a connection failure) says the server is busy
or unreachable right now: each task backs off exponentially, with jitter so refused tasks
do not come back together, and never sooner than the server's Retry-After.
"""

from __future__ import annotations

import random
from typing import Final

__all__ = ["SubmitBackoff"]

_BASE_S: Final = 1.0  # server seconds
_CAP_S: Final = 60.0


class SubmitBackoff:
    """Per-task refusal counts and the delays they earn."""

    def __init__(self, *, time_scale: float = 1.0, seed: int | None = None) -> None:
        self._time_scale = time_scale
        self._random = random.Random(seed)
        self._refusals: dict[str, int] = {}

    def delay(self, task: str, retry_after: float | None) -> float:
        """Real seconds before the task's next create, counting this refusal."""
        count = self._refusals[task] = self._refusals.get(task, 0) + 1
        ceiling: float = min(_CAP_S, _BASE_S * 2 ** (count - 1)) * self._time_scale
        return max(ceiling * self._random.uniform(0.5, 1.0), retry_after or 0.0)

    def accepted(self, task: str) -> None:
        """The task's create was accepted: a later retry of it starts afresh."""
        self._refusals.pop(task, None)
