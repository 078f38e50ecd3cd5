"""The exception tree of `runner`.

Library code raises only these (plus ValueError/TypeError for programming mistakes);
`runner.cli` is the only place they become user output.

    RunnerError
    ├── ManifestError        a manifest or CSV cannot be turned into valid tasks (carries every problem)
    ├── ConfigError          bad flags, endpoint, API key source, limits
    ├── StoreError           the journal is locked, corrupt, or from a newer version
    ├── ApiError             an HTTP exchange with DashScope failed (classified in runner.api.client)
    │   ├── TransientApiError    429, 5xx, timeouts, connection errors: retry later
    │   ├── TaskRejectedError    a 4xx that concerns this task only (validation, content): fail the task
    │   │   └── ListRefusedError     the key may not read the task list (403): fall back
    │   ├── AccountError         401/403/arrears/free tier exhausted: stop the whole run
    │   └── AmbiguousSubmitError the create may have reached the server: reconcile, never resend blindly
    ├── DownloadError        a video could not be fetched or verified
    ├── InputFileError       a local input file vanished or changed since planning (fails that task)
    └── InvalidTransitionError   the lifecycle refused a move; always a bug in our code
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AccountError",
    "AmbiguousSubmitError",
    "ApiError",
    "ConfigError",
    "DownloadError",
    "InputFileError",
    "InvalidTransitionError",
    "JournalDamagedError",
    "JournalFullError",
    "ListRefusedError",
    "ManifestError",
    "Problem",
    "RunnerError",
    "StoreError",
    "TaskRejectedError",
    "TransientApiError",
]


class RunnerError(Exception):
    """Base class of every error `runner` raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one manifest row: where, which field, what was seen, what is allowed."""

    location: str  # "manifests/demo.yaml:12", "rows.csv:8" (the line), or "the --model option"
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: {self.field}" if self.field else self.location
        return f"{where}: {self.message}"


class ManifestError(RunnerError):
    """A manifest could not be turned into valid tasks; carries every problem found."""

    def __init__(self, problems: list[Problem], *, source: str = "manifest") -> None:
        self.problems = problems
        self.source = source
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{source} has {count} {noun}; nothing was sent:"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


class ConfigError(RunnerError):
    """A flag, endpoint, limit or credential source is unusable."""


class StoreError(RunnerError):
    """The journal is locked by another process, corrupt, or written by a newer runner."""


class JournalFullError(StoreError):
    """The disk holding the journal is full: nothing more can be recorded, so the run must stop."""


class JournalDamagedError(StoreError):
    """The journal's file is not a readable journal (truncated, overwritten, a damaged page)."""


class ApiError(RunnerError):
    """An exchange with the DashScope API failed."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after


class TransientApiError(ApiError):
    """Throttling, a server error, a timeout or a dropped connection: the same request may succeed later."""


class TaskRejectedError(ApiError):
    """The service refused this task's request for a reason that concerns only this task."""


class ListRefusedError(TaskRejectedError):
    """The key may not read the account's task list (403): list calls fall back to per-task
    queries, and what only the list can tell (an ambiguous create) is reported, not guessed."""


class AccountError(ApiError):
    """The account cannot be used (bad key, access denied, arrears): the whole run must stop."""


class AmbiguousSubmitError(ApiError):
    """A create request was sent but its answer was lost: the task may or may not exist on the server."""


class DownloadError(RunnerError):
    """A video could not be downloaded or did not verify.

    `restart`: the bytes saved so far cannot be resumed from; the next try starts at byte 0.
    `refused`: not worth another try in this run (a video past its size cap, a URL not http(s)).
    """

    def __init__(
        self,
        message: str,
        *,
        expired: bool = False,
        disk_full: bool = False,
        restart: bool = False,
        refused: bool = False,
    ) -> None:
        super().__init__(message)
        self.expired = expired
        self.disk_full = disk_full
        self.restart = restart
        self.refused = refused  #: trying again would meet the same answer (too large, not http)


class InputFileError(RunnerError):
    """A task's local input file is missing or no longer matches the hash it was planned with."""


class InvalidTransitionError(RunnerError):
    """The lifecycle refused a transition; this is always a bug in runner."""
