"""What `runner`'s exit status means, for cron jobs and CI scripts (README, "Exit codes")."""

from __future__ import annotations

from typing import Final

__all__ = ["EXIT_ACCOUNT", "EXIT_FAILED_TASKS", "EXIT_OK", "EXIT_STOPPED", "EXIT_USAGE"]

EXIT_OK: Final = 0  #: every task done
EXIT_USAGE: Final = 1  #: a bad manifest, flag or key: nothing was sent
EXIT_FAILED_TASKS: Final = 3  #: finished, with failed (or expired, cancelled) tasks
EXIT_STOPPED: Final = 4  #: stopped early and resumable: Ctrl-C, a limit, a full disk
EXIT_ACCOUNT: Final = 5  #: an account-level error: invalid key, arrears, access denied
