"""The download section's memory verdict: flat in the file size means the pool holds no more
over raw httpx than its fixed buffers, at every size."""

from __future__ import annotations

from typing import Any

from bench.downloads import buffer_bound_mb
from bench.report import summary_rows


def _row(
    size_mb: int, raw_peak: float, runner_peak: float, raw_uvloop_peak: float | None = None
) -> dict[str, Any]:
    return {
        "size_mb": size_mb,
        "link_mb_s": None,
        "ratio": 0.9,
        "raw_peak_mb": raw_peak,
        "raw_uvloop_peak_mb": raw_uvloop_peak,
        "runner_peak_mb": runner_peak,
        "buffer_bound_mb": buffer_bound_mb(),
    }


def _memory_verdict(rows: list[dict[str, Any]]) -> tuple[str, str, str, str]:
    found = [row for row in summary_rows({"downloads": {"rows": rows}}) if row[0].startswith("Peak memory")]
    assert len(found) == 1
    return found[0]


def test_a_pool_within_its_buffers_at_every_size_is_flat() -> None:
    figure, target, value, verdict = _memory_verdict([_row(1, 50, 58), _row(20, 50, 80), _row(200, 50, 70)])
    assert figure == "Peak memory across 1–200 MB videos"
    assert target == "flat: ≤ 48 MB over raw on the same loop (the pool's buffers)"
    assert value == "8–30 MB over raw (58–80 MB)"
    assert verdict == "met"


def test_a_pool_that_keeps_whole_videos_is_not_flat() -> None:
    verdict = _memory_verdict([_row(1, 50, 58), _row(200, 50, 850)])[3]
    assert verdict == "**missed**"


def test_the_baseline_runs_on_the_pool_s_own_loop_where_it_was_measured() -> None:
    """What raw httpx itself holds on uvloop is the loop's doing, not the pool's buffers."""
    rows = [_row(1, 50, 60, raw_uvloop_peak=53), _row(200, 50, 100, raw_uvloop_peak=53)]
    assert _memory_verdict(rows)[2:] == ("7–47 MB over raw (60–100 MB)", "met")
    rows = [_row(1, 50, 60, raw_uvloop_peak=53), _row(200, 50, 110, raw_uvloop_peak=53)]
    assert _memory_verdict(rows)[3] == "**missed**"
