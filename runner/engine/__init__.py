"""Layer 3: `runner run`'s engine: submit -> poll -> download, within the account's budgets.

engine          the Engine: the run's accounts, the journal before every action, the run's stop
account         one account's share: its lanes, poller, downloads, uploads, reconciliation
config          the run's limits and knobs (EngineConfig)
lanes           one lane per model: its queue, pacer and slots (and opt-in queue-ahead)
submission      one create, journalled around the POST; what waits to be sent, and backoff
reconciliation/ did an ambiguous create reach the server? (evidence, and the passes)
polling/        when to look at each task, one list call for many, how a task ended
downloads       the download pool
uploads         local inputs into data: URLs or DashScope's temporary storage
startup         an interrupted journal back to states a process can act on
rebuild         a lost journal rebuilt from the run folder
runstats        counters, the progress snapshot, the final summary
ratelimit       GCRA pacing and AIMD on 429s
crashpoints     named places a test can kill the process at
trace           `--trace`: each task's steps, timestamped, as JSON lines
"""

from __future__ import annotations

from runner.engine.account import AccountLink
from runner.engine.config import DEFAULT_QUEUE_AHEAD, EngineConfig
from runner.engine.engine import Engine
from runner.engine.ratelimit import Pacer
from runner.engine.rebuild import has_earlier_run, rebuild_journal, sidecar_endpoint
from runner.engine.runstats import Snapshot
from runner.engine.trace import NO_TRACE, Trace
from runner.engine.uploads import UploadSettings

__all__ = [
    "DEFAULT_QUEUE_AHEAD",
    "NO_TRACE",
    "AccountLink",
    "Engine",
    "EngineConfig",
    "Pacer",
    "Snapshot",
    "Trace",
    "UploadSettings",
    "has_earlier_run",
    "rebuild_journal",
    "sidecar_endpoint",
]
