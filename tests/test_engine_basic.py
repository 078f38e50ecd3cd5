"""The engine against the in-process simulator: complete, verified, within quota, never twice."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from engine_helpers import assert_folder_complete, make_specs, run_batch, sim_app, sim_client
from factories import local_png, spec

from runner.core.endpoints import ENDPOINTS
from runner.engine import AccountLink, Engine, EngineConfig
from runner.journal.store import JOURNAL_NAME, Store

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]


async def test_batch_completes_with_verified_videos(tmp_path: Path) -> None:
    """Every task ends DONE with a video whose sha256 matches the simulator's ledger, and a sidecar."""
    batch = await run_batch(tmp_path, make_specs(12), sim_app("fast", time_scale=0.002, seed=1))
    assert batch.summary.done == 12
    assert batch.summary.unfinished == 0
    assert_folder_complete(tmp_path, batch.ledger)


async def test_fault_free_run_stays_within_quota_and_submits_once(tmp_path: Path) -> None:
    """No 429, never more running than the quota, one accepted submission per task."""
    batch = await run_batch(
        tmp_path, make_specs(20), sim_app("fast", time_scale=0.002, seed=2), concurrency=5
    )
    assert batch.ledger["throttled_total"] == 0
    assert batch.ledger["peak_running"]["wan2.6-i2v-flash"] <= 5
    assert len(batch.ledger["submissions"]) == 20
    assert batch.ledger["duplicate_bodies"] == 0


@pytest.mark.parametrize("mode", ["queue", "reject"])
async def test_by_default_no_task_is_sent_beyond_the_concurrency_quota(tmp_path: Path, mode: str) -> None:
    """Queue-ahead is opt-in: with the default config a refusing server sees no 429, and a
    queueing one never holds a task waiting behind the quota (each submission finds fewer
    than `concurrency` earlier tasks not yet ended)."""
    app = sim_app("fast", time_scale=0.002, seed=3, concurrency_mode=mode)
    batch = await run_batch(tmp_path, make_specs(12), app, concurrency=5)
    assert batch.summary.done == 12
    assert batch.ledger["throttled_total"] == 0
    subs = batch.ledger["submissions"]
    for sub in subs:
        earlier = [o for o in subs if o["submit_time"] < sub["submit_time"]]
        assert sum(1 for o in earlier if o["end_time"] > sub["submit_time"]) < 5


async def test_queue_ahead_is_dropped_when_the_server_rejects_surplus(tmp_path: Path) -> None:
    """A server that refuses tasks beyond the quota costs one 429 (the first surplus submission);
    queue-ahead then stays 0 for the run, since no task within the quota is throttled."""
    app = sim_app("fast", time_scale=0.002, seed=3, concurrency_mode="reject")
    batch = await run_batch(tmp_path, make_specs(12), app, concurrency=5, queue_ahead=2)
    assert batch.summary.done == 12
    assert batch.engine.workers[0].lanes.queue_ahead.current == 0
    assert batch.ledger["throttled"].get("create", 0) == 1


async def test_permanent_task_failure_is_recorded_not_retried(tmp_path: Path) -> None:
    """A content rejection fails that task once with its code; the others finish."""
    specs = [spec("bad", "A scene [sim-fail:DataInspectionFailed]"), *make_specs(3)]
    batch = await run_batch(tmp_path, specs, sim_app("fast", time_scale=0.002, seed=4))
    assert batch.summary.done == 3
    assert batch.summary.failed_by_code == {"DataInspectionFailed": 1}
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        assert store.record("bad").attempts == 1


async def test_retryable_task_failure_is_resubmitted_up_to_max_attempts(tmp_path: Path) -> None:
    """An InternalError failure is submitted again, at most max_attempts times in all."""
    specs = [spec("flaky", "A scene [sim-fail:InternalError]")]
    batch = await run_batch(tmp_path, specs, sim_app("fast", time_scale=0.002, seed=5), max_attempts=3)
    assert batch.summary.failed_by_code == {"InternalError": 1}
    assert len(batch.ledger["submissions"]) == 3
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        assert store.record("flaky").attempts == 3


async def test_a_rehearsed_timeout_costs_seconds_at_the_default_speed(tmp_path: Path) -> None:
    """[sim-fail:InternalError.Timeout] at time scale 0.05: three attempts in well under a minute of
    (virtual) time, where each used to hold its slot for the 3-hour limit, 9 minutes each."""
    specs = [spec("slow", "A scene [sim-fail:InternalError.Timeout]")]
    started = anyio.current_time()
    batch = await run_batch(tmp_path, specs, sim_app("default", time_scale=0.05, seed=5), max_attempts=3)
    assert batch.summary.failed_by_code == {"InternalError.Timeout": 1}
    assert len(batch.ledger["submissions"]) == 3
    assert anyio.current_time() - started < 30


async def test_local_image_is_sent_and_a_changed_one_fails_its_task(tmp_path: Path) -> None:
    """A local image goes out as a data: URL; one edited after planning fails with InputFileChanged."""
    good = local_png(tmp_path / "in" / "good.png", rgb=(90, 90, 90))
    edited = local_png(tmp_path / "in" / "edited.png", rgb=(150, 150, 150))
    local_png(tmp_path / "in" / "edited.png", rgb=(151, 151, 151))  # changed after planning
    specs = [spec("good", image=good), spec("edited", image=edited)]
    batch = await run_batch(tmp_path / "run", specs, sim_app("fast", time_scale=0.002, seed=6))
    assert batch.summary.done == 1
    assert batch.summary.failed_by_code == {"InputFileChanged": 1}
    with Store.open(tmp_path / "run" / JOURNAL_NAME) as store:
        message = store.record("edited").error_message or ""
    assert "edited.png" in message
    assert "changed since the manifest was planned" in message


async def test_progress_cost_counts_each_success_once(tmp_path: Path) -> None:
    """The cost a progress snapshot shows is what the journal's succeeded tasks cost: an earlier
    run's successes once, and this run's once, however late the first snapshot is taken."""
    app = sim_app("fast", time_scale=0.002, seed=5)
    await run_batch(tmp_path, make_specs(3), app)
    store = Store.open(tmp_path / JOURNAL_NAME)
    try:
        store.add_tasks(make_specs(6))
        async with sim_client(app) as client:
            engine = Engine(
                store, AccountLink(client, ENDPOINTS["sim"]), tmp_path, EngineConfig(5, 5.0, time_scale=0.002)
            )
            summary = await engine.run()
            assert summary.done == 6
            assert engine.snapshot().cost == pytest.approx(summary.cost)
    finally:
        store.close()


async def test_a_task_waiting_for_its_submit_turn_keeps_the_run_going(tmp_path: Path) -> None:
    """A task taken from the queue and waiting for the submit rate is still work: the run does
    not end, with it unsent, when every other task has finished meanwhile."""
    specs = [spec("quick", "A scene [sim-time:1]"), spec("next", "Another scene [sim-time:1]")]
    batch = await run_batch(tmp_path, specs, sim_app("fast", time_scale=0.002, seed=5), submit_rate=0.05)
    assert (batch.summary.done, batch.summary.unfinished) == (2, 0)
    assert batch.summary.stopped_reason is None


async def test_a_finished_journal_run_again_rewrites_no_file(tmp_path: Path) -> None:
    """Nothing left to do: the engine sends nothing and leaves report.html and the status
    table as they are (at 100,000 tasks each rewrite costs seconds of a resume)."""
    app = sim_app("fast", time_scale=0.002, seed=6)
    await run_batch(tmp_path, make_specs(4), app)
    files = [tmp_path / name for name in ("report.html", "status.csv", "status.parquet")]
    written = [path.stat().st_mtime_ns for path in files]
    again = await run_batch(tmp_path, make_specs(4), app)
    assert again.summary.skipped == 4
    assert len(again.ledger["submissions"]) == 4
    assert [path.stat().st_mtime_ns for path in files] == written
