"""Quotas are per model: each model's tasks are submitted in a lane of their own quota."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_helpers import make_specs, run_batch, sim_app
from factories import spec

from runner.core.costs import reserved_cost
from runner.core.efficiency import makespan_lower_bound
from runner.core.endpoints import ENDPOINTS
from runner.engine.config import EngineConfig
from runner.engine.lanes import Lanes
from runner.engine.ratelimit import AnyioClock
from runner.engine.runstats import RunStats, build_summary
from runner.journal.store import JOURNAL_NAME, Store
from runner.manifest.limits import Limits
from runner.planning.quotas import Quota, model_quotas

FAST, SLOW = "wan2.6-i2v-flash", "wan2.2-i2v-flash"  # 5/s with 5 at once; 2/s with 2 at once


def test_each_model_gets_its_catalogue_quota_or_the_runs_limit() -> None:
    """The catalogue's numbers per model; a limit replaces that number for every model; a model
    the catalogue does not know gets 1/s and 1 at once."""
    assert model_quotas([FAST, SLOW, "not-a-model"]) == {
        FAST: Quota(5.0, 5),
        SLOW: Quota(2.0, 2),
        "not-a-model": Quota(1.0, 1),
    }
    assert model_quotas([FAST, SLOW], Limits(concurrency=3)) == {FAST: Quota(5.0, 3), SLOW: Quota(2.0, 3)}


def test_lanes_route_tasks_by_model_and_count_what_they_reserve() -> None:
    """Each task lands in its model's lane with that model's quota; a model the config does not
    list gets the config's own numbers; the lanes add up what their held tasks could cost
    (`--max-cost` counts it: tests/test_accounts_in_one_run.py)."""
    config = EngineConfig(concurrency=1, submit_rate=1.0, quotas=model_quotas([FAST, SLOW]))
    models = {"a": FAST, "b": SLOW, "c": "wan2.5-i2v-preview"}
    lanes = Lanes(models, config, AnyioClock(), ENDPOINTS["sim"])
    assert {lane.model: lane.quota for lane in lanes} == {
        FAST: Quota(5.0, 5),
        SLOW: Quota(2.0, 2),
        "wan2.5-i2v-preview": Quota(1.0, 1),
    }
    assert lanes.of("b").model == SLOW
    assert lanes.capacity == 5 + 2 + 1
    held, other = spec("a"), spec("b", model=SLOW)
    lanes.of("a").slots.hold("a", held)
    lanes.of("b").slots.hold("b", other)
    cost = reserved_cost(held, ENDPOINTS["sim"]) + reserved_cost(other, ENDPOINTS["sim"])
    assert lanes.held == 2
    assert lanes.reserved == pytest.approx(cost)


def _most_running_at_once(submissions: list[dict[str, Any]]) -> int:
    """The largest number of tasks, of any model, running at one instant on the server."""
    starts = [s["scheduled_time"] for s in submissions if s["scheduled_time"] is not None]
    return max(
        sum(
            1
            for s in submissions
            if s["scheduled_time"] is not None and s["scheduled_time"] <= t < s["end_time"]
        )
        for t in starts
    )


@pytest.mark.anyio
async def test_two_models_each_use_their_own_quota_at_once(tmp_path: Path) -> None:
    """A manifest of a 5·5 model and a 2·2 model on a server that refuses tasks beyond a quota:
    five of the first and two of the second run at the same time, with no 429, and every task
    is done (one pool at the smaller quota would run two at a time in all)."""
    specs = [*make_specs(15, "f"), *make_specs(6, "s", model=SLOW)]
    app = sim_app("fast", time_scale=0.002, seed=4, concurrency_mode="reject")
    quotas = model_quotas([FAST, SLOW])
    batch = await run_batch(tmp_path, specs, app, concurrency=1, submit_rate=1.0, quotas=quotas)
    assert batch.summary.done == 21
    assert batch.ledger["throttled_total"] == 0
    assert batch.ledger["peak_running"] == {SLOW: 2, FAST: 5}
    assert _most_running_at_once(batch.ledger["submissions"]) == 7


def test_a_refused_surplus_turns_queue_ahead_off_in_every_lane() -> None:
    """Whether the server refuses tasks beyond a quota is one fact about the server: once a task
    beyond one model's quota is refused, no lane sends tasks beyond its quota."""
    config = EngineConfig(1, 1.0, queue_ahead=2, quotas=model_quotas([FAST, SLOW]))
    lanes = Lanes({"a": FAST, "b": SLOW}, config, AnyioClock(), ENDPOINTS["sim"])
    assert (lanes.of("a").slots.capacity, lanes.of("b").slots.capacity) == (7, 4)
    lanes.queue_ahead.throttled(beyond=True)
    assert (lanes.of("a").slots.capacity, lanes.of("b").slots.capacity) == (5, 2)


def test_efficiency_bound_is_the_slowest_models_at_its_own_quota(tmp_path: Path) -> None:
    """Ten 100 s tasks on 5 slots beside four on 2: the run's bound is the larger of the two
    models' bounds (about 200 s), not all fourteen on the smaller quota (700 s)."""
    config = EngineConfig(1, 1.0, quotas=model_quotas([FAST, SLOW]))
    stats = RunStats(first_submit_local=0.0, durations={FAST: [100.0] * 10, SLOW: [100.0] * 4})
    bound = max(makespan_lower_bound([100.0] * 10, 5, 5.0), makespan_lower_bound([100.0] * 4, 2, 2.0))
    stats.last_settled_local = bound / 0.8
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        summary = build_summary(
            store,
            stats,
            currency="USD",
            wall_time_s=1.0,
            stopped_reason=None,
            quota_of=config.quota,
            slope=1.0,
        )
    assert summary.efficiency == pytest.approx(0.8)
