"""The limits and knobs of one `runner run`, as the engine takes them (flags, manifest
`limits:` and the catalogue are merged into one EngineConfig by the CLI; each model's quota
comes from runner.planning.quotas)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol, TypeVar, TypeVarTuple

import anyio

from runner.engine.uploads import UploadSettings
from runner.planning import Quota

__all__ = ["DEFAULT_QUEUE_AHEAD", "EngineConfig", "Offload", "run_inline"]

DEFAULT_QUEUE_AHEAD: Final = 0

T = TypeVar("T")
Args = TypeVarTuple("Args")


class Offload(Protocol):
    """Runs blocking file work (writes, hashes, fsyncs) and returns its result."""

    def __call__(self, func: Callable[[*Args], T], *args: *Args) -> Awaitable[T]: ...


async def run_inline(func: Callable[[*Args], T], *args: *Args) -> T:
    """Blocking work on the event loop itself: for a virtual-time test loop, whose clock
    would jump ahead while a worker thread works."""
    return func(*args)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Limits and knobs of one run; rates and times are in server seconds."""

    concurrency: int  #: of a model `quotas` does not list
    submit_rate: float  #: of a model `quotas` does not list
    queue_ahead: int = DEFAULT_QUEUE_AHEAD  #: tasks submitted beyond the concurrency quota
    max_cost: float | None = None
    max_wall_time: float | None = None  #: real seconds
    max_attempts: int = 3
    download_transfers: int = 4  #: videos streaming at once
    #: task-endpoint requests per second: at most 5 in any one second (the account allows 20 for
    #: all its clients together; a little under 5 leaves room for the network's jitter)
    poll_rate: float = 4.5
    time_scale: float = 1.0  #: real seconds per server second (only a simulator compresses time)
    learn_clock: bool = False  #: fit the server clock's rate (a simulator of unknown time scale)
    status_every: float = 30.0  #: real seconds between status table (and report.html) rewrites
    retry_failed: bool = False
    verify: bool = False  #: hash every done video at startup (its size is always checked)
    max_video_mb: float | None = None  #: a video's size cap (None: by its length, runner.engine.downloads)
    retry_codes: frozenset[str] = frozenset()
    max_posts_in_flight: int = 2  #: per model: bounds how many submissions a crash can leave ambiguous
    #: real seconds of connection failures, with no answer ever received, before the run gives up
    unreachable_give_up_s: float = 60.0
    #: server seconds an ambiguous create waits for its candidates' echoes before it is sent
    #: again as a possible double charge
    reconcile_wait_s: float = 1800.0
    uploads: UploadSettings = field(default_factory=UploadSettings)  #: data: URL threshold, upload pool
    quotas: Mapping[str, Quota] = field(default_factory=dict)  #: per model
    worker_threads: bool = True  #: blocking file work in worker threads (off: on the event loop)

    @property
    def offload(self) -> Offload:
        """How the run does blocking file work: beside the event loop, or on it."""
        return anyio.to_thread.run_sync if self.worker_threads else run_inline

    def quota(self, model: str) -> Quota:
        """The quota the run keeps for `model`'s tasks."""
        return self.quotas.get(model) or Quota(self.submit_rate, self.concurrency)
