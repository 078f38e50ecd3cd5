"""A local imitation of the DashScope video-synthesis API (Wan image-to-video).

`create_app(SimConfig.profile("default"))` returns a Starlette app that serves the
DashScope paths under `/api/v1` (create on both paths, query, cancel, list, getPolicy),
a fake object store under `/_oss` (form uploads, signed expiring video downloads) and a
ledger under `/_sim`. It imports nothing from the rest of `runner`: it restates the wire
format on its own so that a drift between client and simulator fails a test.

Use it in-process::

    app = create_app(SimConfig.profile("fast", seed=1))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                               base_url="http://sim.local/api/v1")

or on a loopback port with `runner sim serve` (see server.py).

Key facts (details and every switch in config.py):

* API key: `sk-sim-local` by default (`api_key: null` accepts any non-empty key).
* Time: simulated seconds; `time_scale` real seconds per simulated second; tests pass a
  `ManualClock` to `create_app(..., clock=...)` and advance it, or a `LoopClock` to share a
  virtual-time event loop's clock with the client under test.
* Quotas per model: 5 submissions/s and 5 running for wan2.6/2.5, 2 and 2 for the rest;
  task endpoints 20/s; excess concurrent tasks queue as PENDING (`concurrency_mode`).
* Reserved input names rehearse media failures without any network (media.py): hosts
  ending `.invalid` cannot be downloaded, `timeout.invalid` times out, host
  `not-an-image.example` or a path ending `.txt` is not an image, `forbidden.example`
  is not authorised, `missing.example` is not found.
* Prompt markers for exact rehearsals: `[sim-fail:CODE]` fails the task with CODE,
  `[sim-time:SECONDS]` fixes its generation time.
* Ledger: `GET /_sim/ledger` (same API key) or `app.state.simulator.ledger()`;
  `POST /_sim/reset` clears it.
"""

from runner.simulator.app import API_PREFIX, create_app
from runner.simulator.clock import Clock, LoopClock, ManualClock, ScaledClock
from runner.simulator.config import (
    DEFAULT_API_KEY,
    PROFILES,
    FaultConfig,
    FaultScript,
    FaultWindow,
    SimConfig,
    TimingConfig,
)
from runner.simulator.faults import SimulatedDisconnect
from runner.simulator.memory import TaskMemory
from runner.simulator.state import Simulator, canonical_sha256

__all__ = [
    "API_PREFIX",
    "DEFAULT_API_KEY",
    "PROFILES",
    "Clock",
    "FaultConfig",
    "FaultScript",
    "FaultWindow",
    "LoopClock",
    "ManualClock",
    "ScaledClock",
    "SimConfig",
    "SimulatedDisconnect",
    "Simulator",
    "TaskMemory",
    "TimingConfig",
    "canonical_sha256",
    "create_app",
]
