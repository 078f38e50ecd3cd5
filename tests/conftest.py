"""Shared fixtures: the anyio backend and an isolated working directory."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_real_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a real key from the developer's environment."""
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
