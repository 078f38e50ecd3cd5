"""How a task ended, as DashScope reported it, written to the journal.

A query's terminal answer becomes one transition: SUCCEEDED with the video URL, the usage
and the actual cost; FAILED with DashScope's code and message; CANCELED; or, for a task id
DashScope no longer knows (UNKNOWN), EXPIRED. The server's own timestamps go with each.
"""

from __future__ import annotations

from typing import Any, Final

from runner.api import TaskStatus
from runner.core import Endpoint, Event, actual_cost
from runner.journal import Store

__all__ = ["TASK_ENDS", "journal_end", "server_times"]

TASK_ENDS: Final = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"})


def journal_end(store: Store, task: str, status: TaskStatus, endpoint: Endpoint) -> None:
    """Journal the end `status` reports for `task` (its status is one of TASK_ENDS)."""
    times = server_times(status)
    if status.status == "SUCCEEDED":
        store.transition(
            task,
            Event.SUCCEEDED,
            video_url=status.video_url,
            usage=status.usage,
            orig_prompt=status.orig_prompt,
            actual_prompt=status.actual_prompt,
            cost=actual_cost(store.spec(task), status.usage, endpoint),
            **times,
        )
    elif status.status == "FAILED":
        store.transition(
            task,
            Event.TASK_FAILED,
            error_code=status.code or "Unknown",
            error_message=status.message or "DashScope reported the task FAILED without a message.",
            **times,
        )
    elif status.status == "CANCELED":
        store.transition(task, Event.CANCELLED, **times)
    else:
        message = (
            f"DashScope no longer knows task {status.task_id}: it expired (task ids live 24 h), "
            "or the server forgot it (an in-process simulator restarted)."
        )
        store.transition(task, Event.EXPIRED, error_code="Expired", error_message=message)


def server_times(status: TaskStatus) -> dict[str, Any]:
    """The server's timestamps a query reported, as journal fields."""
    values = {
        "submit_time": status.submit_time,
        "scheduled_time": status.scheduled_time,
        "end_time": status.end_time,
    }
    return {name: value for name, value in values.items() if value is not None}
