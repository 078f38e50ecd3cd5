"""The plan: classification against the journal, cost by model and resolution, wall-time bound."""

from __future__ import annotations

import pytest

from runner.core.costs import task_cost
from runner.core.endpoints import ENDPOINTS
from runner.core.tasks import MediaItem, MediaRef, ParamValue, TaskRecord, TaskSpec, TaskState
from runner.manifest.limits import Limits, ModelLimits
from runner.planning.plan import Disposition, build_plan

SIM = ENDPOINTS["sim"]
BEIJING = ENDPOINTS["beijing"]


def spec(
    task_id: str,
    *,
    model: str = "wan2.6-i2v-flash",
    resolution: str = "720P",
    duration: int = 5,
    audio: bool | None = None,
    key: str | None = None,
) -> TaskSpec:
    params: dict[str, ParamValue] = {"resolution": resolution, "duration": duration}
    if audio is not None:
        params["audio"] = audio
    image = MediaRef("image", url=f"https://example.com/{task_id}.png")
    media = (MediaItem("first_frame", image),)
    return TaskSpec(id=task_id, key=key or f"key-{task_id}", model=model, media=media, parameters=params)


def record(task_id: str, state: TaskState, *, key: str | None = None) -> TaskRecord:
    return TaskRecord(id=task_id, key=key or f"key-{task_id}", state=state)


def test_tasks_are_classified_against_the_journal() -> None:
    """Unknown and planned ids are new; done, failed, expired, running and re-keyed ids are sorted."""
    specs = [spec(name) for name in ("a", "b", "c", "d", "e", "f", "g", "h")]
    records = [
        record("b", TaskState.DONE),
        record("c", TaskState.FAILED),
        record("d", TaskState.EXPIRED),
        record("e", TaskState.RUNNING),
        record("f", TaskState.DONE, key="old-content"),
        record("g", TaskState.PLANNED),
        record("h", TaskState.AMBIGUOUS),
    ]
    plan = build_plan(specs, records, SIM)
    assert [t.disposition for t in plan.tasks] == [
        Disposition.NEW,
        Disposition.DONE,
        Disposition.FAILED,
        Disposition.FAILED,
        Disposition.IN_FLIGHT,
        Disposition.CHANGED,
        Disposition.NEW,
        Disposition.IN_FLIGHT,
    ]
    assert plan.tasks[1].state is TaskState.DONE
    assert plan.tasks[0].state is None
    assert plan.to_run == 5


def test_cost_uses_the_region_price_and_the_silent_price() -> None:
    """wan2.6-i2v-flash 720P costs $0.05/s with audio, $0.025/s with audio=false (sim bills as Singapore)."""
    assert task_cost(spec("a"), SIM) == pytest.approx(0.25)
    assert task_cost(spec("a", audio=False), SIM) == pytest.approx(0.125)
    assert task_cost(spec("a", resolution="1080P", duration=10), BEIJING) == pytest.approx(5.0)


def test_cost_is_grouped_by_model_and_resolution_and_skips_done_tasks() -> None:
    """Only tasks that will run are priced; failed ones are priced separately as a retry cost."""
    specs = [
        spec("a"),
        spec("b", audio=False),
        spec("c", resolution="1080P", duration=10),
        spec("d", model="wan2.2-i2v-flash", resolution="480P"),
        spec("e"),
        spec("f"),
    ]
    records = [record("e", TaskState.DONE), record("f", TaskState.FAILED)]
    plan = build_plan(specs, records, SIM)
    lines = {
        (line.model, line.resolution): (line.tasks, line.seconds, round(line.cost, 4)) for line in plan.costs
    }
    assert lines == {
        ("wan2.6-i2v-flash", "720P"): (2, 10, 0.375),
        ("wan2.6-i2v-flash", "1080P"): (1, 10, 0.75),
        ("wan2.2-i2v-flash", "480P"): (1, 5, 0.075),
    }
    assert plan.total_cost == pytest.approx(1.2)
    assert plan.retry_cost == pytest.approx(0.25)
    assert plan.currency == "USD"


def test_wall_time_is_the_makespan_bound_plus_one_generation() -> None:
    """Ten 5 s 720P flash tasks: max(10/5, 10·52.5/5) + 52.5 = 157.5 s; concurrency 2 widens the work term."""
    specs = [spec(str(n)) for n in range(10)]
    (estimate,) = build_plan(specs, [], SIM).estimates
    assert (estimate.tasks, estimate.submit_rate, estimate.concurrency) == (10, 5.0, 5)
    assert estimate.wall_s == pytest.approx(157.5)
    limited = build_plan(specs, [], SIM, Limits(concurrency=2, submit_rate=100))
    assert limited.wall_s == pytest.approx(10 * 52.5 / 2 + 52.5)
    assert limited.estimates[0].submit_rate == 100  # as `runner run`: a limit replaces the quota
    own = build_plan(specs, [], SIM, Limits(concurrency=5, models={"wan2.6-i2v-flash": ModelLimits(2)}))
    assert own.estimates[0].concurrency == 2  # the model's own limit, over the run's


def test_each_model_runs_at_its_own_quota_side_by_side() -> None:
    """As `runner run` runs them: each model in a lane of its own quota, so the whole run's
    estimate is its slowest model's, not the bound of all its tasks at the smallest quota."""
    specs = [
        *(spec(f"f{n}") for n in range(10)),
        *(spec(f"s{n}", model="wan2.2-i2v-flash") for n in range(4)),
    ]
    plan = build_plan(specs, [], SIM)
    quotas = {e.model: (e.tasks, e.submit_rate, e.concurrency) for e in plan.estimates}
    assert quotas == {"wan2.6-i2v-flash": (10, 5.0, 5), "wan2.2-i2v-flash": (4, 2.0, 2)}
    assert plan.wall_s == pytest.approx(max(e.wall_s for e in plan.estimates))
    every = sum(e.generation_s for e in plan.estimates)
    assert plan.wall_s < every / 2  # less than all 14 tasks on the smaller quota's 2 slots


def test_nothing_to_run_has_no_estimate() -> None:
    """When every task is done the plan runs nothing, costs nothing and takes no time."""
    plan = build_plan([spec("a")], [record("a", TaskState.DONE)], SIM)
    assert (plan.to_run, plan.total_cost, plan.wall_s, plan.estimates) == (0, 0.0, 0.0, [])


def test_renamed_content_already_done_is_noted() -> None:
    """A new id whose content is done under another id is pointed out, since it would be generated again."""
    plan = build_plan([spec("new-id", key="k1")], [record("old-id", TaskState.DONE, key="k1")], SIM)
    assert any("'new-id' = 'old-id'" in note for note in plan.notes)
