"""The chaos harness, small: 30 tasks, every crash point, 3 random SIGKILLs, all promises audited."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.engine.crashpoints import CRASH_POINTS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_small_chaos_run_keeps_every_promise(tmp_path: Path) -> None:
    """bench/chaos.py --tasks 30 --kills 3 exits 0: all terminal, verified, no hidden duplicate."""
    command = [sys.executable, str(ROOT / "bench" / "chaos.py"), "--tasks", "30", "--kills", "3", "--json"]
    command += ["--workdir", str(tmp_path), "--write-markdown", str(tmp_path / "figures.md")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr + (tmp_path / "runner.log").read_text()
    figures = json.loads(result.stdout)
    assert figures["violations"] == []
    assert sorted(figures["crash_points_hit"]) == sorted(CRASH_POINTS)
    assert figures["random_kills"] >= 1
    assert figures["done"] + sum(figures["failed"].values()) + figures["expired"] == 30
    assert figures["sha_mismatches"] == figures["part_files"] == 0
    assert figures["wrong_adoptions"] == 0
    assert figures["unreported_double_charges"] == 0
    markdown = (tmp_path / "figures.md").read_text()
    assert "<!-- bench/chaos.py --tasks 30 --kills 3: begin -->" in markdown
    assert "| Violations | none |" in markdown
