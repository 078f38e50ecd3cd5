"""An endpoint that never answers stops the run with a clear reason instead of retrying for ever."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from engine_helpers import make_specs

from runner.api.client import DashScopeClient
from runner.core.endpoints import resolve_endpoint
from runner.core.tasks import TaskState
from runner.engine import AccountLink, Engine, EngineConfig
from runner.journal.store import JOURNAL_NAME, Store


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.anyio
async def test_unreachable_endpoint_stops_the_run_and_submits_nothing(tmp_path: Path) -> None:
    """Connection refused on every create, with no answer ever: the run stops as 'unreachable'."""
    endpoint = resolve_endpoint(f"http://127.0.0.1:{_closed_port()}")
    config = EngineConfig(concurrency=2, submit_rate=2.0, unreachable_give_up_s=0.5)
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        store.add_tasks(make_specs(3))
        async with httpx.AsyncClient(base_url=endpoint.base_url) as http:
            engine = Engine(
                store, AccountLink(DashScopeClient(http, "sk-test"), endpoint), tmp_path, config, seed=1
            )
            summary = await engine.run()
        assert summary.stopped_reason == "unreachable"
        assert {record.state for record in store.records()} == {TaskState.PLANNED}
