"""The task state machine: a pure transition table, nothing else.

`advance(state, event)` returns the next state or raises InvalidTransitionError;
the scheduler journals the result. No I/O, no clock, no awaits.
"""

from __future__ import annotations

from enum import StrEnum

from runner.core.errors import InvalidTransitionError
from runner.core.tasks import TaskState

__all__ = ["Event", "advance", "can_advance"]

S = TaskState


class Event(StrEnum):
    """Things that happen to a task."""

    SUBMIT_INTENT = "submit_intent"  #: about to POST (journalled first)
    ACCEPTED = "accepted"  #: the POST returned a task id
    DEFERRED = "deferred"  #: the POST was refused before creating anything (429): try later
    REJECTED = "rejected"  #: the POST was refused for this task for good
    REPLY_LOST = "reply_lost"  #: the POST may have landed: we do not know
    ADOPTED = "adopted"  #: reconciliation found the task on the server
    NOT_FOUND = "not_found"  #: reconciliation is sure the POST never landed
    STARTED = "started"  #: the server reports RUNNING
    SUCCEEDED = "succeeded"  #: the server reports SUCCEEDED
    TASK_FAILED = "task_failed"  #: the server reports FAILED
    CANCELLED = "cancelled"  #: the server accepted our cancel
    EXPIRED = "expired"  #: the task or its video is gone from the server
    DOWNLOAD_STARTED = "download_started"
    DOWNLOADED = "downloaded"  #: verified, renamed into place, sidecar written
    DOWNLOAD_INTERRUPTED = "download_interrupted"  #: try the download again
    VIDEO_LOST = "video_lost"  #: a done video is missing or altered on disk: fetch it again
    RETRY = "retry"  #: a failed or expired task is planned again (new attempt)


_TABLE: dict[TaskState, dict[Event, TaskState]] = {
    S.PLANNED: {Event.SUBMIT_INTENT: S.SUBMITTING},
    S.SUBMITTING: {
        Event.ACCEPTED: S.PENDING,
        Event.DEFERRED: S.PLANNED,
        Event.REJECTED: S.FAILED,
        Event.REPLY_LOST: S.AMBIGUOUS,
    },
    S.AMBIGUOUS: {Event.ADOPTED: S.PENDING, Event.NOT_FOUND: S.PLANNED},
    S.PENDING: {
        Event.STARTED: S.RUNNING,
        Event.SUCCEEDED: S.SUCCEEDED,
        Event.TASK_FAILED: S.FAILED,
        Event.CANCELLED: S.CANCELLED,
        Event.EXPIRED: S.EXPIRED,
    },
    S.RUNNING: {
        Event.SUCCEEDED: S.SUCCEEDED,
        Event.TASK_FAILED: S.FAILED,
        Event.EXPIRED: S.EXPIRED,
    },
    S.SUCCEEDED: {
        Event.DOWNLOAD_STARTED: S.DOWNLOADING,
        Event.EXPIRED: S.EXPIRED,
    },
    S.DOWNLOADING: {
        Event.DOWNLOADED: S.DONE,
        Event.DOWNLOAD_INTERRUPTED: S.SUCCEEDED,
        Event.EXPIRED: S.EXPIRED,
    },
    S.DONE: {Event.VIDEO_LOST: S.SUCCEEDED},
    S.FAILED: {Event.RETRY: S.PLANNED},
    S.CANCELLED: {Event.RETRY: S.PLANNED},
    S.EXPIRED: {Event.RETRY: S.PLANNED},
}


def can_advance(state: TaskState, event: Event) -> bool:
    """Whether `event` is legal in `state`."""
    return event in _TABLE[state]


def advance(state: TaskState, event: Event, *, task: str = "?") -> TaskState:
    """The state after `event`, or InvalidTransitionError naming the task, state and event."""
    try:
        return _TABLE[state][event]
    except KeyError:
        msg = f"Task {task!r}: event {event.value!r} is not allowed in state {state.value!r}."
        raise InvalidTransitionError(msg) from None
