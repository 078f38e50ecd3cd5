"""What a run's outcome means as an exit status, for cron jobs and CI scripts (README, "Exit codes").

`runner run` exits with it; `runner.run` gives it as `RunResult.exit_code`.
"""

from __future__ import annotations

from typing import Final

from runner.core import AccountError, RunSummary

__all__ = [
    "EXIT_ACCOUNT",
    "EXIT_FAILED_TASKS",
    "EXIT_OK",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "OUTCOMES",
    "exit_code",
]

EXIT_OK: Final = 0  #: every task done
EXIT_USAGE: Final = 1  #: a bad manifest, flag or key: nothing was sent
EXIT_FAILED_TASKS: Final = 3  #: finished, with failed (or expired, cancelled) tasks
EXIT_STOPPED: Final = 4  #: stopped early and resumable: Ctrl-C, a limit, a full disk
EXIT_ACCOUNT: Final = 5  #: an account-level error: invalid key, arrears, access denied

#: one word per exit status of a finished run, for scripts and webhooks
OUTCOMES: Final = {
    EXIT_OK: "done",
    EXIT_FAILED_TASKS: "failed tasks",
    EXIT_STOPPED: "stopped",
    EXIT_ACCOUNT: "account error",
}


def exit_code(summary: RunSummary, account_error: AccountError | None) -> int:
    """5 account error · 4 stopped early or unfinished (resumable) · 3 failed tasks · 0 all done."""
    if account_error is not None:
        return EXIT_ACCOUNT
    if summary.stopped_reason or summary.unfinished:
        return EXIT_STOPPED
    if summary.failed or summary.expired or summary.cancelled:
        return EXIT_FAILED_TASKS
    return EXIT_OK
