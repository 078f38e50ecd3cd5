"""Shared helpers for engine tests: specs, an in-process simulator, and one call to run a batch.

On a virtual-time loop (tests marked `virtual_time`) the simulator reads the loop's clock
(LoopClock) and the engine does its file work on the loop, so the whole scenario runs in
virtual time: its outcome is the same on any machine, under any load.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import looptime
from factories import spec
from starlette.applications import Starlette

from runner.api.client import DashScopeClient
from runner.api.wire import ResolvedInputs, build_create_body
from runner.core.endpoints import ENDPOINTS, SIM_API_KEY
from runner.core.tasks import RunSummary, TaskSpec, TaskState
from runner.engine import AccountLink, Engine, EngineConfig
from runner.journal.store import JOURNAL_NAME, Store
from runner.simulator import LoopClock, SimConfig, canonical_sha256, create_app
from runner.simulator.server import serve_in_thread

__all__ = [
    "Batch",
    "assert_folder_complete",
    "assert_own_videos",
    "make_specs",
    "on_virtual_clock",
    "paid_twice",
    "run_batch",
    "sha256_of",
    "sim_app",
]

SIM_BASE = "http://sim.local/api/v1"
VIRTUAL_EPOCH = 1_780_000_000.0  #: the simulator's wall clock at t=0 on a virtual-time loop


def on_virtual_clock() -> bool:
    """Whether the running event loop is a virtual-time (looptime) loop."""
    return isinstance(asyncio.get_running_loop(), looptime.LoopTimeEventLoop)


def make_specs(count: int, prefix: str = "t", **params: Any) -> list[TaskSpec]:
    return [spec(f"{prefix}{i:04d}", **params) for i in range(count)]


def sim_app(profile: str = "fast", **overrides: Any) -> Starlette:
    """A simulator app; on a virtual-time loop it shares the loop's clock (call it inside the test)."""
    if not on_virtual_clock():
        return create_app(SimConfig.profile(profile, **overrides))
    config = SimConfig.profile(profile, **{"epoch": VIRTUAL_EPOCH, **overrides})
    return create_app(config, clock=LoopClock(config.time_scale))


@dataclass
class Batch:
    """What one engine run produced."""

    summary: RunSummary
    engine: Engine
    ledger: dict[str, Any]
    run_dir: Path


@asynccontextmanager
async def sim_client(
    app: Starlette, api_key: str = SIM_API_KEY, *, loopback: bool = False
) -> AsyncIterator[DashScopeClient]:
    """A client of `app`: in-process, or (`loopback`) over a real socket as `runner run` connects."""
    if not loopback:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=SIM_BASE) as http:
            yield DashScopeClient(http, api_key)
        return
    with serve_in_thread(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield DashScopeClient(http, api_key)


async def run_batch(
    run_dir: Path,
    specs: Sequence[TaskSpec],
    app: Starlette,
    *,
    api_key: str = SIM_API_KEY,
    stop_after: float | None = None,
    loopback: bool = False,
    **config: Any,
) -> Batch:
    """Journal `specs` in `run_dir` and run the engine against `app` until done (or `stop_after` s)."""
    scale = app.state.simulator.config.time_scale
    values: dict[str, Any] = {
        "concurrency": 5,
        "submit_rate": 5.0,
        "time_scale": scale,
        "worker_threads": not on_virtual_clock(),
        **config,
    }
    store = Store.open(run_dir / JOURNAL_NAME)
    try:
        store.add_tasks(specs)
        async with sim_client(app, api_key, loopback=loopback) as client:
            engine = Engine(
                store, AccountLink(client, ENDPOINTS["sim"]), run_dir, EngineConfig(**values), seed=1
            )
            if stop_after is not None:
                import anyio

                async def stop_later() -> None:
                    await anyio.sleep(stop_after)
                    engine.request_stop("interrupted")

                async with anyio.create_task_group() as group:
                    group.start_soon(stop_later)
                    summary = await engine.run()
                    group.cancel_scope.cancel()
            else:
                summary = await engine.run()
    finally:
        store.close()
    return Batch(summary, engine, app.state.simulator.ledger(), run_dir)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_folder_complete(run_dir: Path, ledger: dict[str, Any]) -> None:
    """Every DONE task's video matches the simulator's ledger and has a sidecar; no .part is left;
    the status tables exist."""
    by_task_id = {s["task_id"]: s for s in ledger["submissions"]}
    with Store.open(run_dir / JOURNAL_NAME) as store:
        for record in store.records([TaskState.DONE]):
            assert record.video_path is not None
            entry = by_task_id[record.task_id]
            assert sha256_of(run_dir / record.video_path) == entry["video_sha256"] == record.video_sha256
            sidecar = json.loads((run_dir / "videos" / f"{record.id}.json").read_text())
            assert sidecar["task_id"] == record.task_id
    assert not list(run_dir.rglob("*.part"))
    assert (run_dir / "status.csv").is_file()
    assert (run_dir / "status.parquet").is_file()


def body_sha256(task_spec: TaskSpec) -> str:
    """The simulator's hash of the create body the client sends for a spec with remote inputs."""
    inputs = ResolvedInputs(tuple((item.role, item.ref.url or "") for item in task_spec.media))
    return canonical_sha256(build_create_body(task_spec, inputs))


def assert_own_videos(run_dir: Path, ledger: dict[str, Any]) -> None:
    """Every task the journal holds a server task for points at a task created from its own
    request: the file under a task's id is that task's video (remote inputs only)."""
    by_task_id = {s["task_id"]: s for s in ledger["submissions"]}
    with Store.open(run_dir / JOURNAL_NAME) as store:
        for record in store.records():
            if record.task_id is None:
                continue
            entry = by_task_id[record.task_id]
            assert entry["request_sha256"] == body_sha256(store.spec(record.id)), (record.id, entry)


def paid_twice(ledger: dict[str, Any]) -> int:
    """Bodies the server generated more than once (each extra success is a double charge)."""
    succeeded: dict[str, int] = {}
    for entry in ledger["submissions"]:
        if entry["status"] == "SUCCEEDED":
            succeeded[entry["request_sha256"]] = succeeded.get(entry["request_sha256"], 0) + 1
    return sum(count - 1 for count in succeeded.values())
