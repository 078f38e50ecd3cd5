"""Whether the endpoint has ever answered: a mistyped URL or no network stops the run, an
outage of an endpoint that did answer is waited out.

Tasks live 24 h on the server and `--max-wall-time` bounds a run, so once any create was
accepted, connection failures are retried for as long as it takes. Before that, failures
for `give_up_s` seconds in a row mean the run can never start: it stops instead of
retrying for ever.
"""

from __future__ import annotations

import logging

__all__ = ["Reachability"]

log = logging.getLogger(__name__)


class Reachability:
    """Connection failures of submissions, against whether anything was ever accepted."""

    def __init__(self, give_up_s: float, *, base_url: str) -> None:
        self._give_up_s = give_up_s
        self._base_url = base_url
        self._answered = False
        self._failing_since: float | None = None

    def answered(self) -> None:
        """A create was accepted: the endpoint is reachable for the rest of the run."""
        self._answered = True

    def should_give_up(self, now: float, error: Exception) -> bool:
        """A submission failed before it was sent: whether the run should stop (logged)."""
        if self._answered:
            return False
        if self._failing_since is None:
            self._failing_since = now
            return False
        failing_for = now - self._failing_since
        if failing_for < self._give_up_s:
            return False
        log.error(
            "Cannot reach %s: every submission for %.0f s failed before it was sent (%s). Check "
            "--endpoint and the network, then run again; nothing was submitted.",
            self._base_url,
            failing_for,
            error,
        )
        return True
