"""The task state machine allows exactly the documented transitions."""

from __future__ import annotations

import pytest

from runner.core.errors import InvalidTransitionError
from runner.core.lifecycle import Event, advance, can_advance
from runner.core.tasks import TERMINAL_STATES, TaskState


def test_happy_path_reaches_done() -> None:
    """planned → submitting → pending → running → succeeded → downloading → done."""
    state = TaskState.PLANNED
    for event in (
        Event.SUBMIT_INTENT,
        Event.ACCEPTED,
        Event.STARTED,
        Event.SUCCEEDED,
        Event.DOWNLOAD_STARTED,
        Event.DOWNLOADED,
    ):
        state = advance(state, event)
    assert state is TaskState.DONE


def test_lost_reply_is_ambiguous_then_reconciled() -> None:
    """A lost create reply makes the task ambiguous; reconciliation adopts it or plans it again."""
    ambiguous = advance(TaskState.SUBMITTING, Event.REPLY_LOST)
    assert ambiguous is TaskState.AMBIGUOUS
    assert advance(ambiguous, Event.ADOPTED) is TaskState.PENDING
    assert advance(ambiguous, Event.NOT_FOUND) is TaskState.PLANNED


def test_ambiguous_task_cannot_be_submitted_again() -> None:
    """An ambiguous task is never resubmitted without reconciliation."""
    assert not can_advance(TaskState.AMBIGUOUS, Event.SUBMIT_INTENT)
    with pytest.raises(InvalidTransitionError, match="'submit_intent' is not allowed in state 'ambiguous'"):
        advance(TaskState.AMBIGUOUS, Event.SUBMIT_INTENT, task="t1")


def test_done_only_returns_to_fetch_a_lost_video() -> None:
    """A done task accepts one event only: its video went missing, so it is downloaded again."""
    allowed = [event for event in Event if can_advance(TaskState.DONE, event)]
    assert allowed == [Event.VIDEO_LOST]
    assert advance(TaskState.DONE, Event.VIDEO_LOST) is TaskState.SUCCEEDED


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES - {TaskState.DONE}))
def test_failed_like_states_can_be_retried(state: TaskState) -> None:
    """failed, cancelled and expired tasks can be planned again on request."""
    assert advance(state, Event.RETRY) is TaskState.PLANNED
