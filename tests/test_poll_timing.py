"""The poll timing policy: what it does before it has learned anything, and after."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import make_specs, run_batch, sim_app

from runner.core.efficiency import makespan_lower_bound
from runner.core.lifecycle import Event
from runner.engine.polling.estimates import ClockMap, Durations
from runner.engine.polling.timing import PollTiming
from runner.engine.polling.watches import Watch, Watches
from runner.journal.store import JOURNAL_NAME, Store
from runner.outputs.status_table import CSV_NAME

SHAPE = ("wan2.6-i2v-flash", "720P", 5)


def timing(*, slope: float = 1.0, learn: bool = False) -> PollTiming:
    return PollTiming(ClockMap(slope, fit_slope=learn), Durations(), random.Random(1))


def test_before_any_task_finished_the_first_look_is_one_server_second_after_the_create() -> None:
    """The catalogue's typical time for this shape is about 50 s; tasks may be far shorter, so the
    first look does not wait for it."""
    policy = timing(slope=100.0)  # a simulator at time scale 0.01
    assert policy.discovering(SHAPE)
    assert policy.first_look(SHAPE, backlogged=True) == pytest.approx(0.01)
    assert policy.first_look(SHAPE, backlogged=False) == pytest.approx(0.01)


def test_discovery_looks_every_five_percent_of_the_time_elapsed_and_never_pass_the_guess() -> None:
    """Looks at 1 s after the create, then every 0.3 s, and every 5 % of the time elapsed once that
    is longer: a slot idles a few percent of the first task's time, however wrong the guess."""
    policy = timing()
    far = 1_000.0
    assert policy.cap(SHAPE, far, now=0.0, since=0.0) == pytest.approx(1.0)
    assert policy.cap(SHAPE, far, now=1.0, since=0.0) == pytest.approx(1.3)
    assert policy.cap(SHAPE, far, now=9.0, since=0.0) == pytest.approx(9.45)
    assert policy.cap(SHAPE, far, now=100.0, since=0.0) == pytest.approx(105.0)
    assert policy.cap(SHAPE, 3.1, now=3.0, since=0.0) == pytest.approx(3.1)


def test_once_a_task_finished_its_duration_sets_the_schedule() -> None:
    """With a measured 8 s task, the first look follows the measurement, and discovery is over."""
    policy = timing()
    policy.durations.add(SHAPE, 8.0)
    assert not policy.discovering(SHAPE)
    assert policy.first_look(SHAPE, backlogged=True) == pytest.approx(8.0)
    assert policy.cap(SHAPE, 123.0, now=0.0, since=0.0) == 123.0


def test_an_uncalibrated_clock_polls_at_geometric_local_intervals_up_to_half_a_second() -> None:
    """A loopback server of unknown time scale: half the time watched, at least the floor, and at
    most half a second (at real speed, tasks shorter than the guess are seen ending at once)."""
    policy = timing(learn=True)
    assert policy.cap(SHAPE, 50.0, now=0.0, since=0.0) == pytest.approx(policy.floor())
    assert policy.cap(SHAPE, 50.0, now=0.4, since=0.0) == pytest.approx(0.6)
    assert policy.cap(SHAPE, 50.0, now=10.0, since=0.0) == pytest.approx(10.5)


def test_a_backlog_spaces_running_polls_wider_than_an_idle_slot_does() -> None:
    """Behind a server-side queue a late look costs nothing; without one it idles a slot."""
    policy = timing()
    for seconds in (80.0, 90.0, 100.0):
        policy.durations.add(SHAPE, seconds)
    backlogged = policy.running_interval(SHAPE, 95.0, backlogged=True)
    tight = policy.running_interval(SHAPE, 95.0, backlogged=False)
    assert tight * 5 < backlogged <= 15.0 * 1.2


def test_without_a_backlog_looks_tighten_once_tasks_start_ending() -> None:
    """Few tasks end before the 5th percentile: a look every 4 % of the median until then,
    every 1.5 % after it, where most of them end (each ±20 % jitter)."""
    policy = timing()
    for seconds in range(80, 121):
        policy.durations.add(SHAPE, float(seconds))
    median = policy.quantile(SHAPE, 0.5)
    early = [policy.running_interval(SHAPE, 70.0, backlogged=False) for _ in range(50)]
    late = [policy.running_interval(SHAPE, 100.0, backlogged=False) for _ in range(50)]
    assert 0.04 * median * 0.8 <= min(early) and max(early) <= 0.04 * median * 1.2
    assert 0.015 * median * 0.8 <= min(late) and max(late) <= 0.015 * median * 1.2


@pytest.mark.anyio
async def test_tasks_far_shorter_than_the_catalogue_guess_keep_the_quota_busy(tmp_path: Path) -> None:
    """8 s tasks where the catalogue expects about 50 s: the first wave is noticed within seconds,
    so the makespan stays near the lower bound (waiting for the guess would halve efficiency)."""
    app = sim_app("fast", time_scale=0.05, seed=5, timing={"median_s": 8.0, "dispatch_delay_s": (0.05, 0.5)})
    batch = await run_batch(tmp_path, make_specs(15), app, concurrency=5, submit_rate=5.0)
    assert batch.summary.done == 15
    runs = batch.ledger["submissions"]
    bound = makespan_lower_bound([s["end_time"] - s["scheduled_time"] for s in runs], 5, 5.0)
    makespan = max(s["end_time"] for s in runs) - min(s["submit_time"] for s in runs)
    assert bound / makespan > 0.75, (bound, makespan)


@pytest.mark.anyio
async def test_status_table_rewrites_during_the_run_happen_beside_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Rewrites in a worker thread (own read-only journal connection) never fail the run or warn."""
    caplog.set_level(logging.WARNING)
    app = sim_app("fast", time_scale=0.002, seed=6)
    batch = await run_batch(tmp_path, make_specs(30), app, status_every=0.005)
    assert batch.summary.done == 30
    assert not [r for r in caplog.records if "status table" in r.getMessage()]
    rows = (tmp_path / CSV_NAME).read_text().splitlines()
    assert len(rows) == 31 and all(",done," in row for row in rows[1:])


@pytest.mark.anyio
async def test_without_a_server_queue_one_list_call_looks_at_every_running_task(tmp_path: Path) -> None:
    """A server that refuses surplus tasks: the tight looks at the running tasks are shared list
    calls, so GETs per task fall far below the ~20 of a GET per look; each task's own GETs still
    journal its start and fetch its result."""
    app = sim_app("fast", time_scale=0.002, seed=7, concurrency_mode="reject")
    batch = await run_batch(tmp_path, make_specs(30), app, concurrency=5, queue_ahead=0)
    assert batch.summary.done == 30
    requests = batch.ledger["requests"]
    assert sum(requests["list"].values()) > 30
    assert sum(requests["query"].values()) / 30 < 8
    assert batch.engine.workers[0].poller.sweeps > 0
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        started = {e["id"] for e in store.events() if e["event"] == Event.STARTED.value}
    assert len(started) >= 27  # a task shorter than any seen before may first be seen SUCCEEDED


def test_tight_looks_stay_at_least_three_tenths_of_a_server_second_apart_for_short_tasks() -> None:
    """1.5 % of an 8 s median would be a look every 0.12 s; 0.3 s is the floor of the tight schedule
    (one list call every 0.3 s is about 3 requests a second, within the run's 5)."""
    policy = timing()
    for seconds in (7.0, 8.0, 9.0):
        policy.durations.add(SHAPE, seconds)
    looks = [policy.running_interval(SHAPE, 8.5, backlogged=False) for _ in range(50)]
    assert min(looks) >= 0.3 * 0.8 and max(looks) <= 0.3 * 1.2


@pytest.mark.anyio
async def test_a_task_a_list_call_saw_end_frees_its_place_before_its_own_query(tmp_path: Path) -> None:
    """The next submission does not wait for the finished task's GET: in the journal, more than
    the quota's tasks are between their submit intent and their end at times, while the server
    never runs more than the quota and never refuses a create."""
    app = sim_app("fast", time_scale=0.002, seed=7, concurrency_mode="reject")
    batch = await run_batch(tmp_path, make_specs(30), app, concurrency=5, queue_ahead=0)
    assert batch.summary.done == 30
    unsettled, most = set(), 0
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        for event in store.events():
            if event["event"] == Event.SUBMIT_INTENT.value:
                unsettled.add(event["id"])
            elif event["event"] in (Event.SUCCEEDED.value, Event.TASK_FAILED.value):
                unsettled.discard(event["id"])
            most = max(most, len(unsettled))
    assert most > 5
    assert max(batch.ledger["peak_running"].values()) <= 5
    assert batch.ledger["throttled"].get("create", 0) == 0


def _handoffs(ledger: dict[str, Any], concurrency: int) -> list[float]:
    """Server seconds from each task's end to the create that took its slot (the k-th end frees
    the slot of the (C + k)-th create): the time a slot idles before the server's dispatch."""
    creates = sorted(s["submit_time"] for s in ledger["submissions"])
    ends = sorted(s["end_time"] for s in ledger["submissions"])
    return [create - end for create, end in zip(creates[concurrency:], ends, strict=False)]


@pytest.mark.anyio
@pytest.mark.virtual_time
@pytest.mark.parametrize("learn_clock", [False, True], ids=["known clock", "loopback clock"])
async def test_the_first_wave_of_an_unknown_shape_is_seen_ending_within_a_look(
    tmp_path: Path, learn_clock: bool
) -> None:
    """9 s tasks in real time where the catalogue expects about 50 s, on a server of known speed
    or one whose clock is still being learnt (loopback): every slot the first five tasks free is
    refilled within 0.6 simulated seconds of their end (a look at least every half second), not
    after a look paced from the guess or grown with the task's age."""
    app = sim_app("default", time_scale=1.0, seed=5, timing={"median_s": 9.0})
    batch = await run_batch(tmp_path, make_specs(15), app, learn_clock=learn_clock)
    assert batch.summary.done == 15
    first_wave = _handoffs(batch.ledger, 5)[:5]
    assert max(first_wave) <= 0.6, first_wave


@pytest.mark.anyio
@pytest.mark.virtual_time
@pytest.mark.parametrize("learn_clock", [False, True], ids=["known clock", "loopback clock"])
async def test_short_tasks_are_seen_ending_within_a_look_and_the_budget_holds(
    tmp_path: Path, learn_clock: bool
) -> None:
    """50 tasks of 9 s at 5 at once: the slots are refilled 0.3 s after a task's end on average
    (list calls every 0.3 s while tasks run), yet no second sees more than 5 task-endpoint
    requests and no create is refused."""
    app = sim_app("default", time_scale=1.0, seed=5, timing={"median_s": 9.0})
    batch = await run_batch(tmp_path, make_specs(50), app, learn_clock=learn_clock)
    assert batch.summary.done == 50
    handoffs = _handoffs(batch.ledger, 5)
    assert sum(handoffs) / len(handoffs) <= 0.3, handoffs
    assert batch.ledger["peak_per_second"]["tasks"] <= 5
    assert batch.ledger["throttled"].get("create", 0) == 0


def test_a_task_pending_in_a_free_slot_is_no_backlog_and_one_seen_ending_frees_its_place() -> None:
    """Backlog means more tasks in flight than the quota (one waits queued for a freed slot): a
    task PENDING while a free slot dispatches it is none, and a task a list call saw end no longer
    holds a place, so the next one sent finds room; beyond the quota, the oldest task not started
    takes the next freed slot."""
    model = SHAPE[0]
    watches = Watches(lambda model: 2)
    first, second = (Watch(f"t{i}", SHAPE, i, sent_local=0.0, started_local=0.0) for i in range(2))
    watches.add(first)
    assert watches.has_room(model)
    watches.add(second)
    second.started_local = None  # its GET said PENDING: being dispatched
    assert not watches.has_room(model) and not watches.backlogged(model)
    assert watches.successor(first) is None
    first.left = True
    assert watches.has_room(model)
    third, fourth = Watch("t2", SHAPE, 2, sent_local=1.0, started_local=1.0), Watch("t3", SHAPE, 3, None)
    watches.add(third)
    watches.add(fourth)
    assert watches.backlogged(model)
    assert watches.successor(third) is second
