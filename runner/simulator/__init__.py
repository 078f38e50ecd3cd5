"""A local imitation of the DashScope video-synthesis API (Wan, HappyHorse video models).

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
* Models (models.py) and their families (families.py): legacy first-frame i2v (img_url),
  kf2v (image2video path), legacy t2v (size), wan2.6 r2v (reference_urls), wan2.7 t2v
  (ratio) and the media-list families (wan2.7 i2v/r2v/videoedit, wan3.0, HappyHorse).
* Quotas per model: 5 submissions/s and 5 running, 2 and 2 for wan2.2/wan2.1 (kf2v
  included) and wan2.2-t2v-plus; task endpoints 20/s; excess concurrent tasks queue as
  PENDING (`concurrency_mode`).
* Videos are real H.264 clips (video.py) as long as the task's output and shaped like its
  `ratio`, `size` or input image, made from the task's own input: a slow pan and zoom over
  its first frame, fading to its last frame, with the prompt as a caption (scenes.py; the
  pictures are kept as small stills, stills.py); a gradient of its own without a picture.
  Usage bills input video seconds where the family does.
  A video input the simulator cannot read (a remote URL) counts as 5.0 s (outcome.py).
* Reserved input names rehearse media failures without any network (media.py): hosts
  ending `.invalid` cannot be downloaded, `timeout.invalid` times out, host
  `not-an-image.example` or a path ending `.txt` is not an image, `forbidden.example`
  is not authorised, `missing.example` is not found. Remote audio must end .wav/.mp3,
  remote video .mp4/.mov; uploads are judged by their bytes.
* Prompt markers for exact rehearsals: `[sim-fail:CODE]` fails the task with CODE
  (InternalError.Timeout after `timing.injected_timeout_s`, 60 s, not the 3-hour
  `max_run_s` a task that really outruns it takes), `[sim-time:SECONDS]` fixes its generation time.
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
