"""The limits and knobs of one `runner run`, as the engine takes them (flags, manifest
`limits:` and the catalogue are merged into one EngineConfig by the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from runner.uploads import UploadSettings

__all__ = ["DEFAULT_QUEUE_AHEAD", "EngineConfig"]

DEFAULT_QUEUE_AHEAD: Final = 0


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Limits and knobs of one run; rates and times are in server seconds."""

    concurrency: int
    submit_rate: float
    queue_ahead: int = DEFAULT_QUEUE_AHEAD  #: tasks submitted beyond the concurrency quota
    max_cost: float | None = None
    max_wall_time: float | None = None  #: real seconds
    max_attempts: int = 3
    download_workers: int = 4
    poll_rate: float = 15.0  #: task-endpoint requests per second (the account allows 20)
    time_scale: float = 1.0  #: real seconds per server second (only a simulator compresses time)
    learn_clock: bool = False  #: fit the server clock's rate (a simulator of unknown time scale)
    status_every: float = 30.0  #: real seconds between status table rewrites
    retry_failed: bool = False
    retry_codes: frozenset[str] = frozenset()
    max_posts_in_flight: int = 2  #: bounds how many submissions a crash can leave ambiguous
    #: real seconds of connection failures, with no answer ever received, before the run gives up
    unreachable_give_up_s: float = 60.0
    uploads: UploadSettings = field(default_factory=UploadSettings)  #: data: URL threshold, upload pool
