"""Pure pieces of the engine: makespan bound, costs, clock map, durations, retryable codes, crash points."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from factories import spec

from runner.core.costs import actual_cost, reserved_cost
from runner.core.efficiency import efficiency, makespan_lower_bound, server_seconds
from runner.core.endpoints import ENDPOINTS
from runner.engine.polling.estimates import ClockMap, Durations
from runner.engine.runstats import is_retryable


def test_lower_bound_is_area_bound_when_concurrency_limited() -> None:
    """Ten 100 s tasks, 2 slots, fast submissions: W/C plus the ramp term."""
    bound = makespan_lower_bound([100.0] * 10, concurrency=2, rate=5.0)
    assert bound == pytest.approx(500.0 + 1 / 20)


def test_lower_bound_is_release_bound_when_rate_limited() -> None:
    """Many short tasks at 1 submission/s: the last one cannot start before (N-1)/R."""
    bound = makespan_lower_bound([1.0] * 100, concurrency=50, rate=1.0)
    assert bound == pytest.approx(99.0 + 1.0)


def test_efficiency_is_bound_over_makespan() -> None:
    """Efficiency is LB/M, capped at 1, None for an empty run."""
    assert efficiency(90.0, 100.0) == pytest.approx(0.9)
    assert efficiency(0.0, 10.0) is None


def test_server_seconds_parses_both_precisions() -> None:
    """Server stamps with and without milliseconds are comparable seconds."""
    first = server_seconds("2026-01-22 23:24:46.527")
    second = server_seconds("2026-01-22 23:24:47")
    assert first is not None and second is not None
    assert second - first == pytest.approx(0.473)
    assert server_seconds("yesterday") is None


def test_costs_follow_usage_and_catalogue() -> None:
    """A silent 720P 5 s flash task costs 5 × the silent price; the reservation matches."""
    task = spec("a", audio=False)
    sim = ENDPOINTS["sim"]
    usage = {"duration": 5, "output_video_duration": 5, "SR": 720, "audio": False}
    assert actual_cost(task, usage, sim) == pytest.approx(0.125)
    assert reserved_cost(task, sim) == pytest.approx(0.125)
    assert actual_cost(task, {"output_video_duration": 5, "SR": 720, "audio": True}, sim) == pytest.approx(
        0.25
    )


def test_clock_map_learns_a_compressed_clock() -> None:
    """Pairs from a server running 20× faster give slope 20 and map server times back."""
    clock = ClockMap(1.0, fit_slope=True, min_spread=0.5)
    for i in range(10):
        clock.add(local=float(i) * 0.2, server=1000.0 + 20 * (i * 0.2) + 0.01)
    assert clock.slope == pytest.approx(20.0, rel=1e-3)
    assert clock.to_local(1040.0) == pytest.approx(2.0, abs=0.01)


def test_clock_map_keeps_the_prior_unless_told_to_fit() -> None:
    """Against DashScope the slope stays 1 whatever the jitter."""
    clock = ClockMap(1.0)
    for i in range(10):
        clock.add(local=float(i), server=500.0 + i * 1.3)
    assert clock.slope == 1.0


def test_durations_quantiles_per_shape_and_fallback() -> None:
    """Quantiles come from the shape's samples, or from the same model scaled by video length."""
    durations = Durations()
    for value in (10.0, 20.0, 30.0, 40.0, 50.0):
        durations.add(("m", "720P", 5), value)
    assert durations.quantile(("m", "720P", 5), 0.5) == 30.0
    assert durations.quantile(("m", "720P", 10), 0.5) == 60.0
    assert durations.quantile(("other", "720P", 5), 0.5) is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("InternalError", True),
        ("InternalError.Timeout", True),
        ("ModelServingError", True),
        ("DataInspectionFailed", False),
        ("IPInfringementSuspect", False),
        ("InvalidParameter", False),
        ("InternalErrorish", False),
        (None, False),
    ],
)
def test_retryable_codes(code: str | None, expected: bool) -> None:
    """Internal failures are worth another attempt; content and parameter rejections are not."""
    assert is_retryable(code) is expected


def test_crash_point_exits_137_on_the_nth_hit() -> None:
    """RUNNER_CRASH_AT/RUNNER_CRASH_AFTER kill the process at that boundary's N-th visit."""
    code = (
        "from runner.engine.crashpoints import crash_point\n"
        "for i in range(5):\n    print(i, flush=True)\n    crash_point('mid_poll')\n"
    )
    env = {**os.environ, "RUNNER_CRASH_AT": "mid_poll", "RUNNER_CRASH_AFTER": "3"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 137
    assert done.stdout.split() == ["0", "1", "2"]
