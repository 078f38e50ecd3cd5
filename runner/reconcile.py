"""Reconciliation: did an ambiguous create reach the server? Look it up before sending again.

DashScope has no idempotency key, so a create whose answer was lost (a crash after the
intent, a dropped connection, a gateway 502/504) is looked up in the account's task list:
tasks of the same model, created around the intent, that no row of the journal knows.
Ambiguous rows (by intent time) and candidates (by creation time) are matched in order;
a candidate whose `orig_prompt` is visible (finished tasks) must carry the row's prompt.
A match is adopted (ADOPTED: polled like any task); no match means the POST never
landed (NOT_FOUND: planned again, counted as "resubmitted after ambiguity").
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from runner.client import ListedTask
from runner.errors import AccountError, ApiError
from runner.estimates import ClockMap
from runner.lifecycle import Event
from runner.polling import Poller
from runner.store import Store
from runner.tasks import TaskRecord, TaskState

__all__ = ["Reconciliation", "reconcile"]

log = logging.getLogger(__name__)

_MARGIN_S: Final = 3600.0  # around the intents, in server or wall seconds
_DAY_S: Final = 86_000.0  # a little under the list's 24 h window limit
_BEIJING: Final = timezone(timedelta(hours=8))  # the zone DashScope's list filter is read in


@dataclass(slots=True)
class Reconciliation:
    """What one reconciliation pass decided."""

    adopted: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    postponed: list[str] = field(default_factory=list)  # the list could not be read: try later


async def reconcile(
    store: Store,
    poller: Poller,
    *,
    intents_local: dict[str, float] | None = None,
    clock_map: ClockMap | None = None,
    known: set[str] | None = None,
) -> Reconciliation:
    """Settle every AMBIGUOUS row of the journal (AccountError propagates).

    `known`: every task id the journal has recorded (computed when not given; updated).
    """
    result = Reconciliation()
    rows = store.records([TaskState.AMBIGUOUS])
    if not rows:
        return result
    if known is None:
        known = store.task_ids()
    by_model: defaultdict[str, list[TaskRecord]] = defaultdict(list)
    for row in rows:
        by_model[store.spec(row.id).model].append(row)
    for model, group in by_model.items():
        try:
            await _reconcile_model(store, poller, model, group, known, intents_local or {}, clock_map, result)
        except AccountError:
            raise
        except ApiError as error:
            log.warning("Reconciliation of %d uncertain submissions postponed: %s", len(group), error)
            result.postponed += [row.id for row in group]
    return result


async def _reconcile_model(
    store: Store,
    poller: Poller,
    model: str,
    rows: list[TaskRecord],
    known: set[str],
    intents_local: dict[str, float],
    clock_map: ClockMap | None,
    result: Reconciliation,
) -> None:
    rows = sorted(rows, key=lambda r: r.submitted_at or 0.0)
    window = _window(rows, intents_local, clock_map)
    candidates = await _candidates(poller, model, window, known)
    if len(candidates) < len(rows) and window is not None:
        candidates = await _candidates(poller, model, None, known)  # the server's last 24 h
    prompts: dict[str, str | None] = {}
    for row in rows:
        spec = store.spec(row.id)
        match = None
        for candidate in candidates:
            if candidate.task_id not in prompts:
                prompts[candidate.task_id] = (await poller.query(candidate.task_id)).orig_prompt
            seen = prompts[candidate.task_id]
            if seen is None or seen == (spec.prompt or ""):
                match = candidate
                break
        if match is None:
            store.transition(row.id, Event.NOT_FOUND, detail={"reason": "no matching task on the server"})
            result.not_found.append(row.id)
            log.warning(
                "Task %r: the uncertain submission never reached DashScope; submitting again.", row.id
            )
            continue
        candidates.remove(match)
        known.add(match.task_id)
        store.transition(
            row.id,
            Event.ADOPTED,
            task_id=match.task_id,
            request_id=match.request_id,
            detail={"task_id": match.task_id},
        )
        result.adopted.append(row.id)
        log.info("Task %r: the uncertain submission was found on DashScope as %s.", row.id, match.task_id)


async def _candidates(
    poller: Poller, model: str, window: tuple[str, str] | None, known: set[str]
) -> list[ListedTask]:
    filters: dict[str, str] = {"model": model}
    if window is not None:
        filters["start"], filters["end"] = window
    found = [
        task
        async for task in poller.list_tasks(**filters)
        if task.task_id not in known and task.model_name in (None, model)
    ]
    return sorted(found, key=lambda t: (t.gmt_create_ms or 0, t.task_id))


def _window(
    rows: list[TaskRecord], intents_local: dict[str, float], clock_map: ClockMap | None
) -> tuple[str, str] | None:
    """The list filter around the intents: server time when this process knows the server's
    clock, else wall time read as Beijing time; None to let the server use its last 24 h."""
    locals_ = [intents_local[row.id] for row in rows if row.id in intents_local]
    if clock_map is not None and len(locals_) == len(rows):
        mapped = [clock_map.to_server(t) for t in locals_]
        if all(m is not None for m in mapped):
            values = [m for m in mapped if m is not None]
            return _bounded(min(values) - _MARGIN_S, max(values) + _MARGIN_S, UTC)
    walls = [row.submitted_at for row in rows if row.submitted_at is not None]
    if len(walls) != len(rows):
        return None
    return _bounded(min(walls) - _MARGIN_S, max(walls) + _MARGIN_S, _BEIJING)


def _bounded(start: float, end: float, zone: timezone) -> tuple[str, str] | None:
    """The window as list filters, or None when it would pass the list's 24 h limit."""
    if end - start > _DAY_S:
        return None
    return _compact(start, zone), _compact(end, zone)


def _compact(seconds: float, zone: timezone) -> str:
    return datetime.fromtimestamp(seconds, tz=zone).strftime("%Y%m%d%H%M%S")
