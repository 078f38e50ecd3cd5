"""`runner run --trace FILE`: a timestamped line for each step of each task, to see where a slot's
seconds go between one task's end on the server and the next task's start.

Each line is one JSON object: `{"t": <unix seconds>, "task": <id>, "step": <name>, ...}`. The wall
clock is used (not the monotonic one) so the lines line up with the server's own times (its
submit, scheduled and end times, which are wall-clock too). The steps, in a task's order:

    taken      the submit loop took the task from its queue (a slot was free)
    paced      the model's submission pacer let it go
    intent     its submit intent is about to be journalled
    durable    the intent is on disk (fsync'd): the create is sent next
    accepted   the create's reply came back with its `task_id`
    get        a GET of the task went out; `got`: its answer (`status`)
    list       a list call went out (task "*"; `tasks`: how many running tasks it looks at)
    seen_end   a look first showed the task ended (`via`: list or get)
    ended      its end is journalled (`status`, and the server's `submit_time`, `scheduled_time`,
               `end_time` as it reported them)

A trace costs a buffered write per step; it is off unless asked for.
"""

from __future__ import annotations

import json
import time
from typing import TextIO

__all__ = ["NO_TRACE", "Trace"]


class Trace:
    """Writes the steps of each task to a stream as JSON lines; `Trace()` writes nothing."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def mark(self, task: str, step: str, **fields: object) -> None:
        """Record that `task` reached `step` now."""
        if self._stream is None:
            return
        line = {"t": round(time.time(), 6), "task": task, "step": step, **fields}
        self._stream.write(json.dumps(line) + "\n")


NO_TRACE = Trace()  #: the trace of a run that keeps none
