"""Reconciliation by evidence: an ambiguous create is adopted only when the server shows it is
the row's own task, never by order; what stays undecidable is resubmitted and reported."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pandas as pd
import pytest
from engine_helpers import (
    Batch,
    assert_folder_complete,
    assert_own_videos,
    paid_twice,
    run_batch,
    sim_app,
    sim_client,
)
from factories import spec

from runner.api.wire import ResolvedInputs
from runner.cli.status import status_data
from runner.core.lifecycle import Event
from runner.core.tasks import TaskSpec
from runner.engine.reconciliation.evidence import Candidate, Claim, Decision, Echo, Verdict, decide
from runner.journal.store import JOURNAL_NAME, Store
from runner.outputs.report import report_data
from runner.outputs.summary import render_summary

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]


async def test_a_dropped_create_never_adopts_the_task_of_a_lost_reply(tmp_path: Path) -> None:
    """The first create is dropped unprocessed, the second processed with its reply lost: the
    second row adopts its own task, the first is sent again, nothing is paid twice."""
    script = [
        {"endpoint": "create", "nth": 1, "kind": "drop"},
        {"endpoint": "create", "nth": 2, "kind": "lost_reply"},
    ]
    app = sim_app("default", seed=3, faults={"script": script})
    specs = [spec("a", "A red fox in snow"), spec("b", "A blue whale at dusk"), spec("c", "A green tram")]
    batch = await run_batch(tmp_path, specs, app)
    assert batch.summary.done == 3
    assert_own_videos(tmp_path, batch.ledger)
    assert paid_twice(batch.ledger) == 0
    assert batch.summary.reconciled == 1
    assert batch.summary.resubmitted_after_ambiguity == 1
    assert_folder_complete(tmp_path, batch.ledger)


async def test_twins_the_server_echoes_alike_are_sent_again_and_reported(tmp_path: Path) -> None:
    """Two rows with one prompt (seeds differ) both lose their replies in one window: no echo can
    tell which task is whose, so both are sent again and each reports the tasks that may be its own."""
    script = [
        {"endpoint": "create", "nth": 1, "kind": "lost_reply"},
        {"endpoint": "create", "nth": 2, "kind": "lost_reply"},
    ]
    app = sim_app("default", seed=4, faults={"script": script})
    specs = [spec("s1", "One prompt", seed=1), spec("s2", "One prompt", seed=2)]
    batch = await run_batch(tmp_path, specs, app)
    assert batch.summary.done == 2
    assert len(batch.summary.possible_double_charges) == 2
    assert_own_videos(tmp_path, batch.ledger)
    lost = {e["task_id"] for e in batch.ledger["submissions"] if e["reply_lost"]}
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        for task in ("s1", "s2"):
            assert set(store.record(task).double_charge_ids or []) == lost
        assert status_data(tmp_path, store)["possible_double_charges"].keys() == {"s1", "s2"}
        assert report_data(tmp_path, store)["run"]["double_charges"] == 2
    assert paid_twice(batch.ledger) == 2  # what the summary warned about, and no more
    assert "Possible double charges: 2 task(s)" in render_summary(batch.summary)
    table = pd.read_csv(tmp_path / "status.csv")
    assert all(set(ids.split()) == lost for ids in table["double_charge_task_ids"])


async def test_a_lost_answer_that_names_its_request_is_adopted_at_once(tmp_path: Path) -> None:
    """A gateway 504 carrying the request id proves which task the create made: it is adopted
    while still running, without waiting for its echo."""
    script = [{"endpoint": "create", "nth": 1, "kind": "lost_reply"}]
    app = sim_app("default", seed=6, faults={"script": script, "lost_reply_mode": "504"})
    batch = await run_batch(tmp_path, [spec("a", "A lighthouse"), spec("b", "A lighthouse at night")], app)
    assert batch.summary.done == 2 and batch.summary.reconciled == 1
    assert len(batch.ledger["submissions"]) == 2
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        events = [e["event"] for e in store.events("a")]
    assert events.index("adopted") < events.index("started")  # adopted before it ended
    assert_own_videos(tmp_path, batch.ledger)


async def test_a_create_answered_200_with_a_body_that_is_not_json_is_looked_up(tmp_path: Path) -> None:
    """A 200 whose body is a proxy's HTML page may hide a created task: it is looked up and
    adopted, never sent again blindly."""
    script = [{"endpoint": "create", "nth": 1, "kind": "lost_reply"}]
    app = sim_app("default", seed=8, faults={"script": script, "lost_reply_mode": "garbled"})
    batch = await run_batch(tmp_path, [spec("a", "A kite"), spec("b", "A boat")], app)
    assert batch.summary.done == 2 and batch.summary.reconciled == 1
    assert len(batch.ledger["submissions"]) == 2
    assert paid_twice(batch.ledger) == 0
    assert_own_videos(tmp_path, batch.ledger)


async def test_a_row_killed_before_its_post_never_adopts_another_folders_task(tmp_path: Path) -> None:
    """Two run folders on one account; one process died between an intent and its POST. On
    resume, the other folder's running tasks are not its own: it sends its create again."""
    app = sim_app("default", seed=5)
    a_specs = [spec(f"a{i}", f"Folder A, scene {i}") for i in range(3)]
    b_specs = [spec(f"b{i}", f"Folder B, scene {i}") for i in range(6)]
    with Store.open(tmp_path / "A" / JOURNAL_NAME) as store:
        store.add_tasks(a_specs)
        store.transition("a0", Event.SUBMIT_INTENT, durable=True, attempts=1, submitted_at=time.time())
    results: dict[str, Batch] = {}

    async def run(name: str, specs: list[TaskSpec], delay: float) -> None:
        await anyio.sleep(delay)
        results[name] = await run_batch(tmp_path / name, specs, app)

    async with anyio.create_task_group() as group:
        group.start_soon(run, "B", b_specs, 0.0)
        group.start_soon(run, "A", a_specs, 10.0)  # B's tasks are running on the account by then
    assert results["A"].summary.done == 3 and results["B"].summary.done == 6
    assert results["A"].summary.reconciled == 0
    assert results["A"].summary.resubmitted_after_ambiguity == 1
    ledger = app.state.simulator.ledger()
    assert_own_videos(tmp_path / "A", ledger)
    assert_own_videos(tmp_path / "B", ledger)
    assert paid_twice(ledger) == 0


async def test_a_resumed_row_never_adopts_a_task_its_journal_gave_another_row(tmp_path: Path) -> None:
    """Two rows with one prompt. The process journalled s2's intent, then sent s1's create and
    journalled its answer, and died before s2's POST. On resume s1's task echoes s2's request
    inside s2's window, but the journal names it s1's: s2 is sent again, each row gets its own."""
    app = sim_app("default", seed=6)
    s1, s2 = spec("s1", "One prompt", seed=1), spec("s2", "One prompt", seed=2)
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        store.add_tasks([s1, s2])
        for task in ("s2", "s1"):
            store.transition(task, Event.SUBMIT_INTENT, durable=True, attempts=1, submitted_at=time.time())
        async with sim_client(app) as client:
            inputs = ResolvedInputs(tuple((item.role, item.ref.url or "") for item in s1.media))
            created = await client.submit(s1, inputs)
        store.transition("s1", Event.ACCEPTED, task_id=created.task_id, detail={"task_id": created.task_id})
    batch = await run_batch(tmp_path, [s1, s2], app)
    assert batch.summary.done == 2
    assert batch.summary.reconciled == 0
    assert batch.summary.resubmitted_after_ambiguity == 1
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        assert store.record("s1").task_id == created.task_id != store.record("s2").task_id
    assert_own_videos(tmp_path, batch.ledger)
    assert paid_twice(batch.ledger) == 0


def _claim(task: str = "r", prompt: str = "p", **window: int | None) -> Claim:
    return Claim(task, prompt, 5, "720P", **window)  # type: ignore[arg-type]


def _echoed(task_id: str, prompt: str = "p", created: int = 1000, duration: float = 5.0) -> Candidate:
    return Candidate(task_id, created, "SUCCEEDED", echo=Echo(prompt, duration, 720))


def test_a_running_candidate_makes_the_row_wait_then_settles_it_as_undecidable() -> None:
    """No echo yet: wait; once the wait is over, the row is sent again naming the candidate."""
    running = Candidate("t1", 1000, "RUNNING")
    assert decide([_claim()], [running])["r"] == Decision(Verdict.WAIT, suspects=("t1",))
    assert decide([_claim()], [running], over={"r"})["r"] == Decision(Verdict.UNDECIDABLE, suspects=("t1",))


def test_only_a_matching_echo_inside_the_window_is_adopted() -> None:
    """Another prompt, another duration, a task outside the window, a failed task: none is the row's."""
    others = [
        _echoed("other-prompt", prompt="q"),
        _echoed("other-duration", duration=10.0),
        _echoed("too-early", created=10),
        Candidate("failed", 1000, "FAILED"),
    ]
    claim = _claim(after_ms=500, before_ms=2000)
    assert decide([claim], others)["r"].verdict is Verdict.NEVER_CREATED
    assert decide([claim], [*others, _echoed("mine")])["r"] == Decision(Verdict.ADOPT, "mine")


def test_a_truncated_echo_of_a_long_prompt_still_matches() -> None:
    """The service cuts prompts past its limit: the echo is a prefix of what was asked."""
    long = "x" * 2000
    assert decide([_claim(prompt=long)], [_echoed("t", prompt=long[:1500])])["r"].task_id == "t"


def test_two_rows_that_could_claim_one_task_adopt_nothing() -> None:
    """A task two ambiguous rows could both be is neither's: both are undecidable."""
    verdicts = decide([_claim("r1"), _claim("r2")], [_echoed("t")])
    assert {d.verdict for d in verdicts.values()} == {Verdict.UNDECIDABLE}


def test_a_request_id_proves_a_task_and_frees_it_from_the_others() -> None:
    """A lost answer that named its request settles that row; the twin row takes what is left."""
    proven = Candidate("t1", 1000, "RUNNING", request_id="req-1")
    claims = [Claim("r1", "p", 5, "720P", request_id="req-1"), _claim("r2")]
    verdicts = decide(claims, [proven, _echoed("t2")])
    assert verdicts["r1"] == Decision(Verdict.ADOPT, "t1")
    assert verdicts["r2"] == Decision(Verdict.ADOPT, "t2")
