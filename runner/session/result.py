"""What a run did, for Python code and for scripts: `RunResult`, and its summary as data
(`runner run --json`, summary.json in the run folder, the webhook's body).

The summary holds numbers, not formatted text (seconds, a ratio, amounts in the run's
currency), times in ISO 8601 UTC, absolute paths, and never a key.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from runner import __version__
from runner.core import AccountError, RunSummary, TaskRecord
from runner.journal import JOURNAL_NAME
from runner.outputs import (
    CSV_NAME,
    PARQUET_NAME,
    PROBLEM_STATES,
    REPORT_NAME,
    VIDEOS_DIR,
    atomic_write,
    render_summary,
)
from runner.session.exitcodes import EXIT_OK, OUTCOMES
from runner.session.frames import read_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SUMMARY_NAME",
    "AccountRefusedError",
    "Failure",
    "RunPaths",
    "RunResult",
    "failures_of",
    "write_summary",
]

SUMMARY_NAME: Final = "summary.json"  #: in the run folder: the last run's summary
MAX_LISTED_FAILURES: Final = 1000  #: beyond this, the summary counts them (status.csv lists all)


@dataclass(frozen=True, slots=True)
class Failure:
    """A task that ended without a video: failed, expired or cancelled, and why."""

    id: str
    state: str
    code: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class RunPaths:
    """Where a run folder's files are."""

    folder: Path
    videos: Path
    status_csv: Path
    status_parquet: Path
    report: Path
    journal: Path
    summary: Path

    @classmethod
    def of(cls, folder: Path) -> RunPaths:
        folder = folder.absolute()
        return cls(
            folder,
            folder / VIDEOS_DIR,
            folder / CSV_NAME,
            folder / PARQUET_NAME,
            folder / REPORT_NAME,
            folder / JOURNAL_NAME,
            folder / SUMMARY_NAME,
        )


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run did: its summary, the folder's tasks by state, the tasks that failed, and
    what the outcome means as an exit status (0 all done, 3 failed tasks, 4 stopped early and
    resumable, 5 an account the service refused)."""

    summary: RunSummary
    folder: Path
    exit_code: int
    manifest: str  #: the manifest's file, or `manifest dict` / `DataFrame`
    endpoint: str
    counts: dict[str, int]  #: the folder's tasks by state when the run ended
    failures: tuple[Failure, ...]
    started_at: float  #: Unix time
    finished_at: float
    account_error: AccountError | None = None  #: why the service refused the run's account

    @property
    def ok(self) -> bool:
        """Every task done."""
        return self.exit_code == EXIT_OK

    @property
    def outcome(self) -> str:
        """`done`, `failed tasks`, `stopped` or `account error`."""
        return OUTCOMES[self.exit_code]

    @property
    def paths(self) -> RunPaths:
        return RunPaths.of(self.folder)

    @property
    def table(self) -> pd.DataFrame:
        """The status table (status.parquet: one row per task), read afresh at each access."""
        return read_frame(self.paths.status_parquet)

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data: numbers, ISO 8601 UTC times, absolute paths."""
        summary = self.summary
        listed = self.failures[:MAX_LISTED_FAILURES]
        return {
            "runner_version": __version__,
            "manifest": self.manifest,
            "endpoint": self.endpoint,
            "run_folder": str(self.paths.folder),
            "exit_code": self.exit_code,
            "outcome": self.outcome,
            "stopped_reason": summary.stopped_reason,
            "error": str(self.account_error) if self.account_error is not None else None,
            "total": summary.total,
            "counts": dict(self.counts),
            "this_run": {
                "done": summary.done,
                "failed": summary.failed,
                "expired": summary.expired,
                "cancelled": summary.cancelled,
                "unfinished": summary.unfinished,
                "already_done": summary.skipped,
            },
            "cost": round(summary.cost, 6),
            "cost_this_run": round(summary.cost_this_run, 6),
            "currency": summary.currency,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "wall_time_s": round(summary.wall_time_s, 3),
            "efficiency_ratio": None if summary.efficiency is None else round(summary.efficiency, 4),
            "failed": [{"id": f.id, "state": f.state, "code": f.code, "message": f.message} for f in listed],
            "failed_not_listed": len(self.failures) - len(listed),
            "failed_by_code": dict(summary.failed_by_code),
            "uncertain_submissions": {
                "adopted": summary.reconciled,
                "sent_again": summary.resubmitted_after_ambiguity,
            },
            "possible_double_charges": dict(summary.possible_double_charges),
            "dropped_accounts": dict(summary.dropped_accounts),
            "paths": {item.name: str(getattr(self.paths, item.name)) for item in fields(RunPaths)},
            "text": render_summary(summary),
        }


class AccountRefusedError(AccountError):
    """The service refused the run's account (a bad key, arrears, no access): the run stopped,
    exit status 5. `result` is what it did until then; its folder's files are written."""

    def __init__(self, result: RunResult) -> None:
        error = result.account_error
        if error is None:
            raise ValueError("AccountRefusedError is for a run the service refused an account.")
        super().__init__(
            str(error), status_code=error.status_code, code=error.code, request_id=error.request_id
        )
        self.result = result


def failures_of(records: list[TaskRecord]) -> tuple[Failure, ...]:
    """The tasks that ended without a video, in manifest order."""
    return tuple(
        Failure(record.id, record.state.value, record.error_code, record.error_message)
        for record in records
        if record.state in PROBLEM_STATES and record.superseded_by is None
    )


def write_summary(result: RunResult) -> Path:
    """Write the summary into the run folder (whole or not at all) and return its path."""
    path = result.paths.summary
    with atomic_write(path) as part:
        part.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _iso(unix: float) -> str:
    return datetime.datetime.fromtimestamp(unix, datetime.UTC).isoformat(timespec="milliseconds")
