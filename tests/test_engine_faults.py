"""Targeted faults: download failures, throttling storms and server-error storms."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import assert_folder_complete, make_specs, run_batch, sim_app

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]


async def test_bad_downloads_are_retried_and_expired_urls_refreshed(tmp_path: Path) -> None:
    """Truncated, reset and expired-URL downloads end as complete, verified videos."""
    faults = {"truncate_download_rate": 0.15, "reset_download_rate": 0.1, "expired_url_rate": 0.15}
    batch = await run_batch(
        tmp_path, make_specs(12), sim_app("fast", time_scale=0.002, seed=8, faults=faults)
    )
    assert batch.summary.done == 12
    downloads = batch.ledger["downloads"]
    assert downloads["truncated"] + downloads["reset"] + downloads["expired"] > 0
    assert batch.engine.workers[0].downloader.retries > 0
    assert_folder_complete(tmp_path, batch.ledger)


async def test_submit_429_storm_slows_down_without_failing_tasks(tmp_path: Path) -> None:
    """A window of 429s on create defers submissions and cuts the rate; no task fails for it."""
    storm = {"windows": [{"kind": "429", "start": 0.0, "end": 40.0, "endpoints": ["create"]}]}
    batch = await run_batch(tmp_path, make_specs(10), sim_app("fast", time_scale=0.002, seed=9, faults=storm))
    assert batch.summary.done == 10
    assert batch.ledger["throttled"]["create"] > 0
    assert batch.engine.stats.throttled == batch.ledger["throttled"]["create"]
    assert len(batch.ledger["submissions"]) == 10


async def test_queue_ahead_returns_when_throttling_explains_the_surplus_429(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Throttling while the server queues surplus: the surplus submission's 429 turns queue-ahead off,
    a within-quota 429 shows it was throttling, and queue-ahead is back for the rest of the run."""
    # Creates 1-5 fill the quota; 6 is the first beyond it (surplus ones are sent one at a time),
    # and 7 waits for a free slot after queue-ahead is off, so it is within the quota. Scripting
    # them by number, not by a time window, keeps the test independent of the machine's speed.
    script = [{"endpoint": "create", "nth": nth, "kind": "429"} for nth in (6, 7)]
    app = sim_app("fast", time_scale=0.002, seed=12, faults={"script": script})
    batch = await run_batch(tmp_path, make_specs(20), app, concurrency=5, queue_ahead=2)
    assert batch.summary.done == 20
    assert batch.ledger["throttled"]["create"] == 2
    assert any("queue-ahead is off" in r.getMessage() for r in caplog.records)
    assert not any("refuses tasks beyond" in r.getMessage() for r in caplog.records)
    assert batch.engine.workers[0].lanes.queue_ahead.current == 2
    # Creates 6 and 7 were refused, so any accepted task sent while 5 earlier ones were still on the
    # server was sent after queue-ahead came back.
    subs = batch.ledger["submissions"]
    surplus = [
        s for s in subs if sum(o["end_time"] > s["submit_time"] for o in subs if o["index"] < s["index"]) >= 5
    ]
    assert surplus, "no task was sent beyond the quota once queue-ahead was back"
    assert batch.ledger["peak_running"]["wan2.6-i2v-flash"] <= 5


async def test_query_error_storm_only_delays_polls(tmp_path: Path) -> None:
    """Half the polls fail with 500/503/504 for a while: tasks finish anyway, none marked failed."""
    faults = {
        "endpoints": ["query"],
        "http_500_rate": 0.2,
        "http_503_rate": 0.2,
        "http_504_rate": 0.1,
    }
    batch = await run_batch(
        tmp_path, make_specs(10), sim_app("fast", time_scale=0.002, seed=10, faults=faults)
    )
    assert batch.summary.done == 10
    assert batch.engine.workers[0].poller.poll_errors > 0
    assert_folder_complete(tmp_path, batch.ledger)
