"""Reconciliation: did an ambiguous create reach the server? A task is adopted on evidence only.

DashScope has no idempotency key, so a create whose answer was lost (a crash around the
POST, a dropped connection, a gateway 502/504, an answer we could not read) is looked up
in the account's task list. Order proves nothing there: a create dropped unprocessed and
one processed with its reply lost look alike from here, and other clients of the account
(another run folder, another tool) create tasks too. A listed task is a row's own only on
evidence:

- the row's model, and no task any row of this journal already knows;
- created inside the row's window: after the last of our creates the server had answered
  before the row's intent, before the first of ours sent after its answer was lost;
- the request id the lost answer carried, when it carried one (decisive); otherwise its
  echo once it has SUCCEEDED: the prompt as the server received it (`orig_prompt`), the
  output duration and resolution in `usage`.

A row whose window holds exactly one task with its echo, which no other ambiguous row could
claim, adopts it. A row whose window holds none was never created: it is sent again. A
FAILED or CANCELED task cost nothing, so it never holds a row back. While a candidate still
runs (no echo yet) the row waits, up to a bound. What the evidence cannot settle (two rows
the server echoes alike, one window; a candidate still running at the bound) is sent again
and recorded as a possible double charge, with the ids of the tasks that may have been its own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from runner.api import ListedTask, TaskStatus
from runner.core import Event
from runner.journal import Store

__all__ = ["UNLISTED", "Candidate", "Claim", "Decision", "Echo", "Verdict", "claims_of", "decide"]

#: stands for a task that may exist but that no list could show (never a real task id)
UNLISTED: Final = "?"

_SKEW_MS: Final = 5_000  #: server clocks of one service may differ a little between hosts
_FREE: Final = frozenset({"FAILED", "CANCELED", "UNKNOWN"})  #: statuses that are never billed
_DURATION_KEYS: Final = ("output_video_duration", "video_duration", "duration")


@dataclass(frozen=True, slots=True)
class Echo:
    """What a SUCCEEDED task shows of the request that made it."""

    prompt: str | None
    duration: float | None
    resolution: int | None  #: the tier's height, as `usage.SR` reports it

    @classmethod
    def of(cls, status: TaskStatus) -> Echo:
        usage = status.usage or {}
        duration = next((usage[key] for key in _DURATION_KEYS if key in usage), None)
        tier = usage.get("SR")
        return cls(
            prompt=status.orig_prompt,
            duration=float(duration) if isinstance(duration, int | float) else None,
            resolution=int(tier) if isinstance(tier, int | float | str) and str(tier).isdigit() else None,
        )


@dataclass(slots=True)
class Candidate:
    """A listed task no journal row knows: one that may be an ambiguous row's own."""

    task_id: str
    created_ms: int | None
    status: str
    request_id: str | None = None
    echo: Echo | None = None  #: read once it SUCCEEDED

    @classmethod
    def listed(cls, task: ListedTask) -> Candidate:
        return cls(task.task_id, task.gmt_create_ms, task.status, task.request_id)

    @property
    def free(self) -> bool:
        """Ended without output: it cost nothing, whoever created it."""
        return self.status in _FREE

    @property
    def undecided(self) -> bool:
        """Not free, and its echo is not known yet (still queued or running, or unread)."""
        return not self.free and self.echo is None


@dataclass(frozen=True, slots=True)
class Claim:
    """An ambiguous row: what its task would echo, and when it could have been created."""

    task: str
    prompt: str | None
    duration: int
    resolution: str
    request_id: str | None = None  #: carried by the answer that left the create in doubt
    after_ms: int | None = None
    before_ms: int | None = None

    def in_window(self, candidate: Candidate) -> bool:
        created = candidate.created_ms
        if created is None:
            return True
        return (self.after_ms is None or created >= self.after_ms) and (
            self.before_ms is None or created <= self.before_ms
        )

    def proven_by(self, candidate: Candidate) -> bool:
        """The lost answer named this very request."""
        return self.request_id is not None and candidate.request_id == self.request_id

    def echoed_by(self, echo: Echo) -> bool:
        """The server echoes what this row asked for (a long prompt may come back truncated)."""
        asked = self.prompt or ""
        seen = echo.prompt or ""
        if seen != asked and not (seen and asked.startswith(seen)):
            return False
        if echo.duration is not None and echo.duration != self.duration:
            return False
        return echo.resolution is None or f"{echo.resolution}P" == self.resolution

    def admits(self, candidate: Candidate) -> bool:
        """Whether the candidate may still be this row's task."""
        if candidate.free or not self.in_window(candidate):
            return False
        return candidate.echo is None or self.echoed_by(candidate.echo)


class Verdict(StrEnum):
    ADOPT = "adopt"  #: the evidence names the row's task
    NEVER_CREATED = "never_created"  #: no task of the window can be the row's: send it again
    WAIT = "wait"  #: a candidate has no echo yet
    UNDECIDABLE = "undecidable"  #: send again, reported as a possible double charge


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    task_id: str | None = None  #: ADOPT: the row's task
    suspects: tuple[str, ...] = ()  #: WAIT, UNDECIDABLE: the tasks that may be the row's


def decide(
    claims: Sequence[Claim], candidates: Iterable[Candidate], *, over: Collection[str] = ()
) -> dict[str, Decision]:
    """What each claim's evidence says now; `over`: the rows whose wait for echoes is over."""
    pool = list(candidates)
    decisions: dict[str, Decision] = {}
    for claim in claims:
        proof = next((c for c in pool if claim.proven_by(c) and claim.in_window(c)), None)
        if proof is not None:
            decisions[claim.task] = Decision(Verdict.ADOPT, proof.task_id)
    taken = {decision.task_id for decision in decisions.values()}
    open_claims = [claim for claim in claims if claim.task not in decisions]
    admitted = {
        claim.task: [c for c in pool if c.task_id not in taken and claim.admits(c)] for claim in open_claims
    }
    for claim in open_claims:
        mine = admitted[claim.task]
        shared = any(c in admitted[other] for other in admitted if other != claim.task for c in mine)
        suspects = tuple(c.task_id for c in mine)
        if not mine:
            decisions[claim.task] = Decision(Verdict.NEVER_CREATED)
        elif len(mine) == 1 and not mine[0].undecided and not shared:
            decisions[claim.task] = Decision(Verdict.ADOPT, mine[0].task_id)
        elif any(c.undecided for c in mine) and claim.task not in over:
            decisions[claim.task] = Decision(Verdict.WAIT, suspects=suspects)
        else:
            decisions[claim.task] = Decision(Verdict.UNDECIDABLE, suspects=suspects)
    return decisions


def claims_of(store: Store, tasks: Sequence[str], listed: Sequence[ListedTask]) -> list[Claim]:
    """The claims of ambiguous rows, each window bounded by the journal's own creates that the
    list shows: a create answered before the row's intent, one sent after its answer was lost."""
    created = {task.task_id: task.gmt_create_ms for task in listed if task.gmt_create_ms is not None}
    ours = store.creates_in_order(created)
    claims = []
    for task in tasks:
        spec = store.spec(task)
        intent = store.last_event_seq(task, Event.SUBMIT_INTENT) or 0
        lost = store.last_event_seq(task, Event.REPLY_LOST)
        before = [created[i] for i, (sent, _) in ours.items() if lost is not None and sent > lost]
        after = [created[i] for i, (_, answered) in ours.items() if answered < intent]
        claims.append(
            Claim(
                task,
                spec.prompt,
                spec.duration,
                spec.resolution,
                request_id=store.record(task).request_id,
                after_ms=max(after) - _SKEW_MS if after else None,
                before_ms=min(before) + _SKEW_MS if before else None,
            )
        )
    return claims
