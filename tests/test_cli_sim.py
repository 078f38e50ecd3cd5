"""`runner sim`: the ledger finds its key as `runner run` does; `serve` runs at the embedded default speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main
from runner.session import DEFAULT_SIM_TIME_SCALE
from runner.simulator import ManualClock, SimConfig, create_app
from runner.simulator.process import spawn_server
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


@pytest.mark.parametrize(
    ("args", "config", "scale"),
    [
        ((), None, DEFAULT_SIM_TIME_SCALE),  # the speed `runner run --endpoint sim` runs at
        (("--time-scale", "1"), None, 1.0),  # real time, on request
        ((), "profile: fast\n", 0.001),  # a profile's own speed
        (("--profile", "fast"), "time_scale: 0.5\n", 0.5),  # a config file's speed
    ],
)
def test_sim_serve_runs_at_the_embedded_simulators_speed(
    tmp_path: Path, args: tuple[str, ...], config: str | None, scale: float
) -> None:
    """`runner sim serve` defaults to the time scale of the embedded `sim` endpoint, and says so."""
    if config is not None:
        (tmp_path / "sim.yaml").write_text(config)
        args = (*args, "--config", str(tmp_path / "sim.yaml"))
    log = tmp_path / "serve.log"
    with spawn_server(*args, stderr_path=log) as server:
        assert server.ledger()["time_scale"] == scale
    speed = "real time" if scale == 1 else f"time scale {scale:g} (a 90 s task takes {90 * scale:g} s"
    assert speed in log.read_text()
