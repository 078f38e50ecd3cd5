"""`python -m bench --smoke` runs every section into a temp folder and reports them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("efficiency", "sdk", "scale", "downloads")


def test_bench_smoke_writes_table_json_and_markdown(tmp_path: Path) -> None:
    """The smoke run exits 0, prints the summary, writes one json per section and the markdown report."""
    report = tmp_path / "BENCHMARKS.md"
    command = [sys.executable, "-m", "bench", "--smoke", "--results", str(tmp_path), "--write", str(report)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Efficiency LB/makespan" not in result.stdout  # smoke has no N >= 500 cell
    assert "Makespan, runner / SDK" in result.stdout
    assert "pool / raw httpx, 25 MB/s per download" in result.stdout
    assert "over raw on the same loop (the pool's buffers)" in result.stdout
    for name in SECTIONS:
        data = json.loads((tmp_path / f"{name}.json").read_text())
        assert data["smoke"] is True and data["rows"], name
    text = report.read_text()
    assert "## Summary" in text and "| Figure | Target | Measured | Verdict |" in text
    assert "cores" in text and "Python" in text
