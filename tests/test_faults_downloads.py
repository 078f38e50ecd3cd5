"""Download faults: truncated and reset bodies, expired video URLs (refreshed while the task is
still queryable), and tasks gone before their video was fetched (reported expired)."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import assert_folder_complete, make_specs, run_batch, sim_app

from runner.core.tasks import TaskState
from runner.journal.store import JOURNAL_NAME, Store

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]


async def test_truncated_reset_and_expired_downloads_end_in_verified_files(tmp_path: Path) -> None:
    """Download 1 is cut short, 2 reset, 3 refused as expired: all tasks end with byte-exact videos."""
    script = [
        {"endpoint": "download", "nth": 1, "kind": "truncate"},
        {"endpoint": "download", "nth": 2, "kind": "reset"},
        {"endpoint": "download", "nth": 3, "kind": "expired"},
    ]
    app = sim_app("fast", seed=21, faults={"script": script})
    batch = await run_batch(tmp_path, make_specs(6), app)
    assert batch.summary.done == 6 and batch.summary.failed == 0
    downloads = batch.ledger["downloads"]
    assert (downloads["truncated"], downloads["reset"], downloads["expired"]) == (1, 1, 1)
    assert_folder_complete(tmp_path, batch.ledger)
    assert len(batch.ledger["submissions"]) == 6, "a download fault never costs a new generation"


async def test_many_download_faults_never_leave_a_partial_file(tmp_path: Path) -> None:
    """30 % truncated, 20 % reset, 10 % expired URLs: no partial file ever; a download still failing
    after its tries is left for the next run, which finishes it without generating anything again."""
    faults = {"truncate_download_rate": 0.3, "reset_download_rate": 0.2, "expired_url_rate": 0.1}
    app = sim_app("fast", seed=22, faults=faults)
    first = await run_batch(tmp_path, make_specs(20), app)
    assert first.summary.failed == first.summary.expired == 0
    assert first.summary.done + first.summary.unfinished == 20
    assert_folder_complete(tmp_path, first.ledger)
    second = await run_batch(tmp_path, make_specs(20), app) if first.summary.unfinished else first
    while second.summary.unfinished:  # each run makes progress; the seed keeps this short
        second = await run_batch(tmp_path, make_specs(20), app)
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        assert store.counts() == {TaskState.DONE: 20}
    assert_folder_complete(tmp_path, second.ledger)
    assert len(second.ledger["submissions"]) == 20 and second.ledger["duplicate_bodies"] == 0


async def test_a_failed_url_refresh_is_retried_within_the_run(tmp_path: Path) -> None:
    """Expired URLs whose refresh query meets a 503 are refreshed again: every video in one run."""
    faults = {"expired_url_rate": 0.3, "http_503_rate": 0.5, "endpoints": ["query"]}
    app = sim_app("fast", seed=25, faults=faults)
    batch = await run_batch(tmp_path, make_specs(10), app)
    assert batch.ledger["downloads"]["expired"] > 0 and batch.ledger["faults"].get("503", 0) > 0
    assert batch.summary.done == 10 and batch.summary.unfinished == 0, batch.summary
    assert_folder_complete(tmp_path, batch.ledger)


async def test_a_task_gone_before_its_download_is_reported_expired(tmp_path: Path) -> None:
    """Tasks forgotten by the server as soon as they end (URL dead too) are EXPIRED with a reason."""
    app = sim_app("fast", seed=24, url_ttl_s=0.0, task_ttl_s=0.5, task_expiry_from="end")
    batch = await run_batch(tmp_path, make_specs(3), app)
    assert batch.summary.expired == 3 and batch.summary.done == 0, batch.summary
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        records = store.records()
    assert {r.state for r in records} == {TaskState.EXPIRED}
    assert all(r.error_code and r.error_message for r in records)
    assert _files(tmp_path, "*.mp4") == _files(tmp_path, "*.part") == []


def _files(folder: Path, pattern: str) -> list[Path]:
    return list(folder.rglob(pattern))
