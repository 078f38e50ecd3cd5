"""Reliability under the simulator's chaos profile, resumption, account errors and secrecy."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import assert_folder_complete, make_specs, run_batch, sim_app

from runner.core.tasks import TaskState
from runner.journal.store import JOURNAL_NAME, Store

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]


def assert_no_needless_resubmission(ledger: dict[str, Any], run_dir: Path) -> None:
    """Per request body, every accepted submission but the last failed; the journal holds the last."""
    by_body: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in ledger["submissions"]:
        by_body[entry["request_sha256"]].append(entry)
    with Store.open(run_dir / JOURNAL_NAME) as store:
        current = {record.task_id for record in store.records()}
    for entries in by_body.values():
        entries.sort(key=lambda e: e["index"])
        assert all(e["status"] == "FAILED" for e in entries[:-1]), entries
        assert entries[-1]["task_id"] in current


@pytest.mark.parametrize("seed", [7, 11])
async def test_chaos_run_finishes_every_task_it_can(tmp_path: Path, seed: int) -> None:
    """Under chaos every task ends DONE or FAILED with the simulator's code; nothing is paid twice."""
    batch = await run_batch(tmp_path, make_specs(30), sim_app("chaos", time_scale=0.002, seed=seed))
    assert batch.summary.unfinished == 0
    assert batch.summary.done + batch.summary.failed == 30
    failed_codes = {e["code"] for e in batch.ledger["submissions"] if e["status"] == "FAILED"}
    assert set(batch.summary.failed_by_code) <= failed_codes
    assert_folder_complete(tmp_path, batch.ledger)
    assert_no_needless_resubmission(batch.ledger, tmp_path)
    assert max(batch.ledger["peak_running"].values()) <= 5
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        for record in store.records([TaskState.FAILED]):
            assert record.error_code and record.error_message


async def test_lost_replies_are_reconciled_not_resubmitted(tmp_path: Path) -> None:
    """Every create whose reply is lost is found through the task list and adopted."""
    app = sim_app("fast", time_scale=0.002, seed=5, faults={"lost_reply_rate": 0.3})
    batch = await run_batch(tmp_path, make_specs(20), app)
    assert batch.summary.done == 20
    lost = sum(1 for e in batch.ledger["submissions"] if e["reply_lost"])
    assert lost > 0
    assert batch.summary.reconciled == lost
    assert len(batch.ledger["submissions"]) == 20
    assert_no_needless_resubmission(batch.ledger, tmp_path)


async def test_stopped_run_resumes_without_touching_finished_work(tmp_path: Path) -> None:
    """A run stopped by its wall-time cap resumes: done tasks untouched, in-flight ones re-polled,
    only never-submitted tasks submitted, nothing submitted twice."""
    app = sim_app("fast", time_scale=0.01, seed=9)
    specs = make_specs(20)
    first = await run_batch(tmp_path, specs, app, max_wall_time=1.2)
    assert first.summary.stopped_reason == "max-wall-time"
    assert 0 < first.summary.done < 20
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        done_before = {r.id: (r.task_id, r.updated_at) for r in store.records([TaskState.DONE])}
        submitted_before = {r.id for r in store.records() if r.attempts}
    second = await run_batch(tmp_path, specs, app)
    assert second.summary.done == 20
    assert second.summary.skipped == len(done_before)
    assert len(second.ledger["submissions"]) == 20
    assert second.engine.stats.submitted == 20 - len(submitted_before)
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        for task, (task_id, updated_at) in done_before.items():
            record = store.record(task)
            assert (record.task_id, record.updated_at) == (task_id, updated_at)
    assert_folder_complete(tmp_path, second.ledger)


async def test_wrong_key_stops_the_run_with_an_account_error(tmp_path: Path) -> None:
    """An invalid key is an account error: the run stops at once, nothing is marked failed."""
    batch = await run_batch(tmp_path, make_specs(5), sim_app("fast", time_scale=0.002), api_key="sk-wrong")
    assert batch.engine.account_error is not None
    assert batch.summary.stopped_reason == "account"
    assert batch.summary.failed == 0
    assert "sk-wrong" not in str(batch.engine.account_error)


async def test_api_key_never_reaches_any_output(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """With a distinctive key and every kind of fault, no output byte and no log line contains it."""
    key = "sk-DISTINCTIVE-0f9e8d7c6b5a"
    caplog.set_level(logging.DEBUG)
    app = sim_app("chaos", time_scale=0.002, seed=3, api_key=key)
    batch = await run_batch(tmp_path, make_specs(15), app, api_key=key)
    assert batch.summary.done > 0
    assert key not in caplog.text
    assert not _files_containing(tmp_path, key.encode())


def _files_containing(folder: Path, needle: bytes) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and needle in path.read_bytes()]
