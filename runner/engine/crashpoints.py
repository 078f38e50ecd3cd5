"""Named crash points: a test seam that kills the process at an exact boundary.

The chaos harness sets `RUNNER_CRASH_AT=<name>` (and optionally `RUNNER_CRASH_AFTER=N`,
default 1) and the runner calls `os._exit(137)` the N-th time it reaches that boundary,
as a SIGKILL would, without flushing or cleaning anything. Unset, a crash point costs
one dictionary lookup.

Points, in the order a task meets them:

- `after_intent`: the submit intent is durable, the POST not yet sent;
- `after_post_before_journal`: the server accepted the task, its id is not journalled yet;
- `mid_poll`: a poll answer arrived and is not journalled yet;
- `mid_download`: the first chunk of a video is in the `.part` file;
- `after_rename_before_journal`: the video is in place, the journal does not know yet.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Final

__all__ = ["CRASH_POINTS", "crash_point"]

CRASH_POINTS: Final = (
    "after_intent",
    "after_post_before_journal",
    "mid_poll",
    "mid_download",
    "after_rename_before_journal",
)
_hits: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Exit at once with status 137 if RUNNER_CRASH_AT names this point and its turn has come."""
    if os.environ.get("RUNNER_CRASH_AT") != name:
        return
    _hits[name] += 1
    if _hits[name] >= int(os.environ.get("RUNNER_CRASH_AFTER", "1")):
        os._exit(137)
