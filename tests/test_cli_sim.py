"""`runner sim`: the ledger finds its key as `runner run` does; `serve` runs at the embedded default speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main
from runner.simulator import ManualClock, SimConfig, create_app
from runner.simulator.server import serve_in_thread

pytestmark = pytest.mark.slow

_KEY = "sk-ledger-test-key"


def test_ledger_sends_the_key_run_would_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DASHSCOPE_API_KEY, then DASHSCOPE_API_KEY_FILE_PATH, reach the simulator; the key is never shown."""
    app = create_app(SimConfig(seed=2, api_key=_KEY), clock=ManualClock())
    with serve_in_thread(app) as url:
        refused = CliRunner().invoke(main, ["sim", "ledger", url])
        assert refused.exit_code == 1
        assert "HTTP 401" in refused.output and "DASHSCOPE_API_KEY" in refused.output
        monkeypatch.setenv("DASHSCOPE_API_KEY", _KEY)
        from_variable = CliRunner().invoke(main, ["sim", "ledger", url])
        assert from_variable.exit_code == 0, from_variable.output
        assert json.loads(from_variable.output)["submissions"] == []
        monkeypatch.delenv("DASHSCOPE_API_KEY")
        key_file = tmp_path / "key"
        key_file.write_text(f"{_KEY}\n")
        monkeypatch.setenv("DASHSCOPE_API_KEY_FILE_PATH", str(key_file))
        from_file = CliRunner().invoke(main, ["sim", "ledger", url])
        assert from_file.exit_code == 0, from_file.output
    assert _KEY not in refused.output + from_variable.output + from_file.output
