"""Wall-clock jumps (NTP steps, VM resume, DST) do not touch scheduling: the engine's clock is the
event loop's monotonic clock, and server durations come from server timestamps only."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import anyio
import pytest
from engine_helpers import assert_folder_complete, make_specs, run_batch, sim_app

from runner.engine.ratelimit import AnyioClock

pytestmark = pytest.mark.anyio

DAY = 86_400.0


async def test_the_engine_clock_is_monotonic_not_wall_time() -> None:
    """The default clock reads the loop's monotonic time, the same source as time.monotonic()."""
    clock = AnyioClock()
    assert abs(clock.now() - time.monotonic()) < 1.0
    assert abs(clock.now() - time.time()) > 1_000.0  # not the epoch clock (monotonic starts at boot)
    before = clock.now()
    await anyio.sleep(0.01)
    assert clock.now() - before >= 0.01


@pytest.mark.virtual_time
async def test_a_wall_clock_jumping_a_day_back_and_forth_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With time.time() jumping ±1 day on every call, a run submits once, expires nothing, finishes,
    and polls about as often as the same run on a steady clock."""
    steady = await run_batch(tmp_path / "steady", make_specs(12), sim_app("fast", seed=41))
    app = sim_app("fast", seed=41)  # the simulator's epoch is read now, before the jumps begin
    real_time = time.time
    jumps = itertools.cycle((DAY, -DAY, 3 * DAY, -2 * DAY))
    monkeypatch.setattr(time, "time", lambda: real_time() + next(jumps))
    batch = await run_batch(tmp_path / "jumping", make_specs(12), app)
    monkeypatch.undo()
    assert batch.summary.done == 12 and batch.summary.expired == 0 and batch.summary.failed == 0
    assert batch.ledger["duplicate_bodies"] == 0 and len(batch.ledger["submissions"]) == 12
    polls = sum(batch.ledger["requests"]["query"].values())
    steady_polls = sum(steady.ledger["requests"]["query"].values())
    assert polls <= 2 * steady_polls, (polls, steady_polls)  # no storm of "overdue" polls
    assert_folder_complete(tmp_path / "jumping", batch.ledger)
