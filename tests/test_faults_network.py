"""Network faults: 429 and 5xx storms slow a run without failing tasks or amplifying load, and a
create whose reply is lost is looked up in the task list instead of being sent again."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import Batch, assert_folder_complete, make_specs, run_batch, sim_app
from factories import spec
from starlette.applications import Starlette

from runner.core.tasks import TaskState
from runner.journal.store import JOURNAL_NAME, Store

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]

TASKS = 40
RATE = 5.0  # submissions per server second
STORM = (100.0, 250.0)  # server seconds


@dataclass
class Recorder:
    """An ASGI wrapper around the simulator app noting (server time, endpoint) of every request."""

    app: Starlette
    seen: list[tuple[float, str]] = field(default_factory=list)

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_sim"):
            kind = "create" if scope["method"] == "POST" and scope["path"].endswith("synthesis") else "other"
            kind = "query" if scope["method"] == "GET" and "/tasks/" in scope["path"] else kind
            self.seen.append((self.app.state.simulator.now(), kind))
        await self.app(scope, receive, send)

    def rate(self, kind: str, start: float, end: float) -> float:
        """Requests of `kind` per server second in [start, end)."""
        return sum(1 for at, k in self.seen if k == kind and start <= at < end) / (end - start)


async def storm_run(tmp_path: Path, kind: str, endpoints: list[str], **faults: Any) -> tuple[Batch, Recorder]:
    windows = [{"kind": kind, "start": STORM[0], "end": STORM[1], "endpoints": endpoints}]
    app = sim_app("fast", seed=11, faults={"windows": windows, **faults})
    recorder = Recorder(app)
    batch = await run_batch(tmp_path, make_specs(TASKS), recorder, submit_rate=RATE)  # type: ignore[arg-type]
    return batch, recorder


def assert_all_done(batch: Batch) -> None:
    assert batch.summary.failed == 0 and batch.summary.expired == 0
    assert batch.summary.done == TASKS, batch.summary
    assert_folder_complete(batch.run_dir, batch.ledger)
    assert batch.ledger["duplicate_bodies"] == 0


async def test_a_429_storm_slows_submissions_and_fails_nothing(tmp_path: Path) -> None:
    """150 s of 429 on every create: no task fails, attempts during the storm fall to a fraction of
    the submit rate (AIMD backs off, no retry storm), and every task finishes after it."""
    batch, recorder = await storm_run(tmp_path, "429", ["create"])
    assert_all_done(batch)
    assert batch.ledger["throttled"].get("create", 0) > 0
    assert recorder.rate("create", *STORM) <= RATE / 4
    busiest = max(recorder.rate("create", t, t + 20.0) for t in range(int(STORM[0]), int(STORM[1]) - 20))
    assert busiest <= RATE / 3, busiest
    after = [at for at, kind in recorder.seen if kind == "create" and at >= STORM[1]]
    assert after, "submissions resumed after the storm"


async def test_a_5xx_storm_on_submit_and_poll_fails_nothing(tmp_path: Path) -> None:
    """150 s of 503 on creates and queries: polls back off, no task is failed by transport errors."""
    batch, recorder = await storm_run(tmp_path, "503", ["create", "query"])
    assert_all_done(batch)
    assert batch.ledger["faults"].get("503", 0) > 0
    assert recorder.rate("create", *STORM) <= RATE
    assert recorder.rate("query", *STORM) <= recorder.rate("query", 0.0, STORM[0]) + 1.0


async def test_random_500_504_and_dropped_connections_fail_nothing(tmp_path: Path) -> None:
    """10 % of 500, 504 and dropped connections on every endpoint: every task still finishes once."""
    faults = {"http_500_rate": 0.1, "http_504_rate": 0.1, "drop_rate": 0.1}
    app = sim_app("fast", seed=12, faults=faults)
    batch = await run_batch(tmp_path, make_specs(TASKS), app, submit_rate=RATE)
    assert_all_done(batch)
    assert sum(batch.ledger["faults"].values()) > 10


@pytest.mark.parametrize("mode", ["drop", "504"])
async def test_a_lost_create_reply_is_reconciled_not_resubmitted(tmp_path: Path, mode: str) -> None:
    """The 3rd create is processed but its reply lost: the task is found in the list and adopted."""
    faults = {"script": [{"endpoint": "create", "nth": 3, "kind": "lost_reply"}], "lost_reply_mode": mode}
    app = sim_app("fast", seed=13, faults=faults)
    batch = await run_batch(tmp_path, make_specs(10), app, submit_rate=RATE)
    assert batch.summary.done == 10
    assert len(batch.ledger["submissions"]) == 10 and batch.ledger["duplicate_bodies"] == 0
    assert [s["reply_lost"] for s in batch.ledger["submissions"]].count(True) == 1
    assert batch.ledger["requests"]["list"], "the task list was consulted"
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        events = [e["event"] for e in store.events()]
    assert events.count("reply_lost") == 1 and events.count("adopted") == 1
    assert events.count("not_found") == 0


async def test_throttled_submissions_do_not_use_up_a_tasks_attempts(tmp_path: Path) -> None:
    """Two 429s before a task is accepted do not count: its InternalError still gets its retry."""
    script = [{"endpoint": "create", "nth": n, "kind": "429"} for n in (1, 2)]
    app = sim_app("fast", seed=14, faults={"script": script})
    failing = spec("flaky", "A flaky scene [sim-fail:InternalError]")
    batch = await run_batch(tmp_path, [failing], app, max_attempts=2)
    assert batch.ledger["throttled"]["create"] == 2
    assert len(batch.ledger["submissions"]) == 2, "one generation and one retry"
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        record = store.record("flaky")
    assert (record.state, record.attempts, record.error_code) == (TaskState.FAILED, 2, "InternalError")
