"""Account-level errors mid-run (the key revoked while tasks are in flight): the run stops at once
with exit 5, in-flight tasks stay in the journal with their ids, and a later run with a valid key
finishes them without submitting anything twice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import assert_folder_complete, make_specs, run_batch, sim_app, sim_client
from starlette.applications import Starlette

from runner.core.endpoints import ENDPOINTS, SIM_API_KEY
from runner.core.tasks import TaskState
from runner.engine import AccountLink, Engine, EngineConfig
from runner.journal.store import JOURNAL_NAME, Store
from runner.session import exit_code
from runner.simulator import Simulator

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]

TASKS = 20
IN_FLIGHT = {TaskState.PENDING, TaskState.RUNNING, TaskState.SUCCEEDED, TaskState.AMBIGUOUS}


@dataclass
class RevokeAfter:
    """The simulator app, reconfigured to refuse the runner's key once it accepted `submissions`."""

    app: Starlette
    submissions: int

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        sim: Simulator = self.app.state.simulator
        if len(sim.ledger()["submissions"]) >= self.submissions:
            sim.config = sim.config.replace(api_key="sk-revoked-by-the-account-owner")
        await self.app(scope, receive, send)


def unauthorised(ledger: dict[str, object]) -> int:
    requests = ledger["requests"]
    assert isinstance(requests, dict)
    return sum(codes.get("401", 0) for codes in requests.values())


async def test_a_key_revoked_mid_run_stops_at_once_and_keeps_in_flight_tasks(tmp_path: Path) -> None:
    """401 InvalidApiKey mid-run: exit 5 after a handful of refused requests, nothing marked failed."""
    app = sim_app("fast", seed=51, time_scale=0.005)
    sim: Simulator = app.state.simulator
    config = EngineConfig(concurrency=5, submit_rate=5.0, time_scale=0.005)
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        store.add_tasks(make_specs(TASKS))
        async with sim_client(RevokeAfter(app, 8)) as client:  # type: ignore[arg-type]
            engine = Engine(store, AccountLink(client, ENDPOINTS["sim"]), tmp_path, config, seed=1)
            summary = await engine.run()
        records = store.records()
    assert engine.account_error is not None and "key" in str(engine.account_error).lower()
    assert summary.stopped_reason == "account"
    assert exit_code(summary, engine.account_error) == 5
    assert unauthorised(sim.ledger()) <= 6, "the run stopped at once instead of retrying"
    states = [r.state for r in records]
    assert TaskState.FAILED not in states
    in_flight = [r for r in records if r.state in IN_FLIGHT]
    assert in_flight and all(r.task_id for r in in_flight if r.state is not TaskState.AMBIGUOUS)
    assert states.count(TaskState.PLANNED) >= TASKS - len(sim.ledger()["submissions"]) - 2

    sim.config = sim.config.replace(api_key=SIM_API_KEY)  # the owner pays the bill, issues a key
    second = await run_batch(tmp_path, make_specs(TASKS), app, time_scale=0.005)
    assert second.summary.unfinished == 0 and second.summary.stopped_reason is None
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        assert store.counts() == {TaskState.DONE: TASKS}
    assert second.ledger["duplicate_bodies"] == 0 and len(second.ledger["submissions"]) == TASKS
    assert_folder_complete(tmp_path, second.ledger)
