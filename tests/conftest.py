"""Shared fixtures: the anyio backend (a virtual-time loop for scenario tests) and no real key."""

from __future__ import annotations

from typing import Any

import looptime
import pytest


@pytest.fixture
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """asyncio; for tests marked `virtual_time`, on a loop whose clock jumps to the next timer
    whenever every task waits, so a scenario's outcome never depends on machine load."""
    if request.node.get_closest_marker("virtual_time"):
        return ("asyncio", {"loop_factory": looptime.new_event_loop})
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_real_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a real key from the developer's environment."""
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
