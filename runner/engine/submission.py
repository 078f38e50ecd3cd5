"""One submission, journalled around the POST: intent (durable) → create → outcome.

The order is what makes a crash at any instant resumable without paying twice: the
intent is on disk before the request leaves, and the answer is journalled before
anything acts on it. The engine decides what each outcome means for slots, pacing and
retries; this module talks to the client and the journal, and keeps what waits to be sent:

- `SubmitQueue`: tasks in order, plus deferred ones with a not-before instant;
- `SubmitBackoff`: how long a refused task waits (exponential, jittered, never before the
  server's Retry-After);
- `Reachability`: before any create was accepted, connection failures for a minute stop the
  run (a mistyped URL, no network); after, an outage is waited out.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import time
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from runner.api import DashScopeClient
from runner.core import (
    AccountError,
    AmbiguousSubmitError,
    ApiError,
    Event,
    InputFileError,
    TaskRejectedError,
    TaskSpec,
    TransientApiError,
)
from runner.engine.crashpoints import crash_point
from runner.engine.ratelimit import Clock
from runner.engine.trace import NO_TRACE, Trace
from runner.engine.uploads import AssetUploader, resolve_inputs
from runner.journal import Store

__all__ = [
    "Outcome",
    "Reachability",
    "SubmitBackoff",
    "SubmitQueue",
    "SubmitResult",
    "run_uploader",
    "submit_task",
]

#: fields of an earlier attempt that must not survive into a new one
_CLEARED: Final = dict.fromkeys(
    (
        "task_id",
        "request_id",
        "error_code",
        "error_message",
        "submit_time",
        "scheduled_time",
        "end_time",
        "video_url",
        "usage",
        "cost",
        "orig_prompt",
        "actual_prompt",
    )
)


class Outcome(StrEnum):
    ACCEPTED = "accepted"  #: PENDING with a task id
    DEFERRED = "deferred"  #: refused before anything was created (429, 5xx): PLANNED again
    REJECTED = "rejected"  #: refused for good: FAILED
    AMBIGUOUS = "ambiguous"  #: may exist on the server: reconcile before resending
    ACCOUNT = "account"  #: the account cannot be used: PLANNED again, the run stops


@dataclass(frozen=True, slots=True)
class SubmitResult:
    outcome: Outcome
    sent_local: float | None = None  #: monotonic instant the create was sent
    task_id: str | None = None
    error: ApiError | None = None


async def submit_task(
    store: Store,
    client: DashScopeClient,
    task: str,
    spec: TaskSpec,
    clock: Clock,
    uploader: AssetUploader | None = None,
    account: str | None = None,
    *,
    trace: Trace = NO_TRACE,
) -> SubmitResult:
    """Journal the intent (naming the `account` whose client sends it), send the create,
    journal what came back (each step marked in `trace`).

    Local files are made ready (data: URL or upload) before the intent: a crash or failure
    meanwhile leaves the task planned, with nothing sent that could be paid for.
    """
    record = store.record(task)
    uploader = uploader or run_uploader(store, client)
    try:
        inputs = await resolve_inputs(spec, uploader)
    except InputFileError as error:
        return _refuse_before_sending(store, task, "InputFileChanged", error)
    except TaskRejectedError as error:  # the storage host refused the file for good
        return _refuse_before_sending(store, task, error.code or "UploadFailed", error)
    except TransientApiError as error:  # uploads exhausted their retries: try the task later
        return SubmitResult(Outcome.DEFERRED, error=error)
    except AccountError as error:
        return SubmitResult(Outcome.ACCOUNT, error=error)
    trace.mark(task, "intent")
    store.transition(
        task,
        Event.SUBMIT_INTENT,
        durable=True,
        attempts=record.attempts + 1,
        submitted_at=time.time(),
        account=account,
        **_CLEARED,
    )
    crash_point("after_intent")
    trace.mark(task, "durable")
    sent = clock.now()
    try:
        submitted = await client.submit(spec, inputs)
    except TransientApiError as error:  # refused before anything was created: not an attempt
        detail = {"status": error.status_code, "code": error.code}
        store.transition(task, Event.DEFERRED, attempts=record.attempts, detail=detail)
        return SubmitResult(Outcome.DEFERRED, sent, error=error)
    except TaskRejectedError as error:
        if uploader.forget_unknown(inputs.urls(), error):
            return _renew_uploads(store, task, record.attempts, sent, error)
        code = error.code or f"HTTP{error.status_code}"
        store.transition(task, Event.REJECTED, error_code=code, error_message=str(error))
        return SubmitResult(Outcome.REJECTED, sent, error=error)
    except AmbiguousSubmitError as error:
        store.transition(task, Event.REPLY_LOST, request_id=error.request_id, detail={"error": str(error)})
        return SubmitResult(Outcome.AMBIGUOUS, sent, error=error)
    except AccountError as error:
        store.transition(task, Event.DEFERRED, attempts=record.attempts, detail={"code": error.code})
        return SubmitResult(Outcome.ACCOUNT, sent, error=error)
    crash_point("after_post_before_journal")
    store.transition(
        task,
        Event.ACCEPTED,
        task_id=submitted.task_id,
        request_id=submitted.request_id,
        detail={"task_id": submitted.task_id},
    )
    trace.mark(task, "accepted", task_id=submitted.task_id)
    return SubmitResult(Outcome.ACCEPTED, sent, task_id=submitted.task_id)


_UPLOADERS: weakref.WeakKeyDictionary[Store, AssetUploader] = weakref.WeakKeyDictionary()


def run_uploader(store: Store, client: DashScopeClient) -> AssetUploader:
    """The run's shared uploader when the caller passed none (default settings, real time)."""
    uploader = _UPLOADERS.get(store)
    if uploader is None:
        uploader = _UPLOADERS[store] = AssetUploader(store, client)
    return uploader


def _renew_uploads(store: Store, task: str, attempts: int, sent: float, error: ApiError) -> SubmitResult:
    """The service did not know an earlier run's upload: nothing was created; send again later."""
    store.transition(task, Event.DEFERRED, attempts=attempts, detail={"code": error.code, "renew": True})
    msg = f"Task {task!r}: an upload from an earlier run is unknown to the service; uploading it again."
    return SubmitResult(Outcome.DEFERRED, sent, error=TransientApiError(msg, code=error.code))


def _refuse_before_sending(store: Store, task: str, code: str, error: Exception) -> SubmitResult:
    """Fail a task whose inputs cannot be sent; nothing reached the create endpoint."""
    store.transition(task, Event.SUBMIT_INTENT)
    store.transition(task, Event.REJECTED, error_code=code, error_message=str(error))
    return SubmitResult(Outcome.REJECTED)


class SubmitQueue:
    """Tasks waiting to be submitted: in order, plus deferred ones with a not-before instant."""

    def __init__(self, tasks: Iterable[str] = ()) -> None:
        self._ready: deque[str] = deque(tasks)
        self._deferred: list[tuple[float, int, str]] = []
        self._seq = itertools.count()

    def __bool__(self) -> bool:
        return bool(self._ready or self._deferred)

    def __len__(self) -> int:
        return len(self._ready) + len(self._deferred)

    def append(self, task: str) -> None:
        self._ready.append(task)

    def put_back(self, task: str) -> None:
        """Return a task taken but not submitted: it goes first next time."""
        self._ready.appendleft(task)

    def defer(self, task: str, until: float) -> None:
        heapq.heappush(self._deferred, (until, next(self._seq), task))

    def take(self, now: float) -> str | None:
        """The next task to submit at `now` (deferred ones whose time has come first), or None."""
        if self._deferred and self._deferred[0][0] <= now:
            return heapq.heappop(self._deferred)[2]
        return self._ready.popleft() if self._ready else None

    def wait_hint(self, now: float) -> float | None:
        """Seconds until a deferred task becomes due, if any is waiting."""
        return max(0.0, self._deferred[0][0] - now) if self._deferred else None


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
