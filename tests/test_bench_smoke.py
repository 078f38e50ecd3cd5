"""`python -m bench --smoke` runs every section into a temp folder and reports them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("efficiency", "realtime", "sdk", "scale", "downloads", "accounts")


def test_bench_smoke_measures_every_section(tmp_path: Path) -> None:
    """The smoke run exits 0 and writes one json of measured rows per section and a report."""
    report = tmp_path / "BENCHMARKS.md"
    command = [sys.executable, "-m", "bench", "--smoke", "--results", str(tmp_path), "--write", str(report)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in SECTIONS:
        data = json.loads((tmp_path / f"{name}.json").read_text())
        assert data["smoke"] is True and data["rows"], name
    assert report.is_file()
