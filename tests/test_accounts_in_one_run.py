"""Several accounts in one run: each keeps its own quota busy, the next task goes to whichever
account frees a slot first, every task stays with the account that sent it, and an account the
service refuses is dropped while the others finish the work.

The scenarios run on a virtual clock shared by the engine and the simulators (one simulator per
account); the last test is the real-time smoke layer: two `runner sim serve` processes with
different keys, a `runner run` killed mid-way, and its resume.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import make_specs, sim_app, sim_client
from test_faults_account import RevokeAfter

from runner.core.endpoints import ENDPOINTS, SIM_API_KEY
from runner.core.tasks import RunSummary, TaskSpec, TaskState
from runner.engine import AccountLink, Engine, EngineConfig
from runner.journal.store import JOURNAL_NAME, Store
from runner.outputs import render_summary
from runner.planning import Quota
from runner.session import exit_code
from runner.simulator.process import fetch_ledger, spawn_server

MODEL = "wan2.6-i2v-flash"  # 5 at once, 5/s per account
SCALE = 0.005


async def run_accounts(
    run_dir: Path, specs: list[TaskSpec], apps: dict[str, Any], **config: Any
) -> tuple[RunSummary, Engine]:
    """Run `specs` with one account per simulator app (named by the keys of `apps`)."""
    values = {"concurrency": 5, "submit_rate": 5.0, "time_scale": SCALE, "worker_threads": False, **config}
    with Store.open(run_dir / JOURNAL_NAME) as store:
        store.add_tasks(specs)
        async with AsyncExitStack() as stack:
            links = [
                AccountLink(await stack.enter_async_context(sim_client(app)), ENDPOINTS["sim"], name)
                for name, app in apps.items()
            ]
            engine = Engine(store, links, run_dir, EngineConfig(**values), seed=1)
            summary = await engine.run()
    return summary, engine


def ledger(app: Any) -> dict[str, Any]:
    return dict(app.state.simulator.ledger())


def owners(run_dir: Path) -> dict[str, str | None]:
    """Each task's journalled account."""
    with Store.open(run_dir / JOURNAL_NAME) as store:
        return {record.id: record.account for record in store.records()}


def sent_by(run_dir: Path, apps: dict[str, Any]) -> dict[str, str]:
    """Each task's account, as the simulators saw it: the one holding its DashScope task id."""
    with Store.open(run_dir / JOURNAL_NAME) as store:
        task_of = {record.task_id: record.id for record in store.records()}
    return {
        task_of[entry["task_id"]]: name
        for name, app in apps.items()
        for entry in ledger(app)["submissions"]
        if entry["task_id"] in task_of
    }


@pytest.mark.anyio
@pytest.mark.virtual_time
async def test_two_accounts_keep_both_quotas_busy_and_halve_the_makespan(tmp_path: Path) -> None:
    """40 tasks on one account, then on two: each simulator runs 5 at once (its quota, never
    more: beyond it the simulator refuses with a 429, and none came), the two share the work,
    and the run takes about half as long. Every task is journalled with the account that sent it."""
    specs = make_specs(40, model=MODEL)
    alone = sim_app("fast", seed=7, time_scale=SCALE, concurrency_mode="reject")
    one, _ = await run_accounts(tmp_path / "one", specs, {"main": alone})
    apps = {  # task ids come from the seed: each account's simulator its own
        name: sim_app("fast", seed=seed, time_scale=SCALE, concurrency_mode="reject")
        for name, seed in (("main", 7), ("lab2", 8))
    }
    two, engine = await run_accounts(tmp_path / "two", specs, apps)

    assert one.done == two.done == 40
    for app in apps.values():
        book = ledger(app)
        assert book["peak_running"] == {MODEL: 5}
        assert book["throttled_total"] == 0 and book["duplicate_bodies"] == 0
    shares = Counter(sent_by(tmp_path / "two", apps).values())
    assert shares["main"] + shares["lab2"] == 40 and min(shares.values()) >= 15
    assert owners(tmp_path / "two") == sent_by(tmp_path / "two", apps)
    ratio = two.wall_time_s / one.wall_time_s
    assert 0.4 < ratio < 0.62, (one.wall_time_s, two.wall_time_s)
    assert two.efficiency is not None and two.efficiency > 0.8  # against the pooled quota's bound
    assert engine.account_error is None and two.dropped_accounts == {}


@pytest.mark.anyio
@pytest.mark.virtual_time
async def test_an_account_refused_from_the_start_is_dropped_and_the_other_does_the_work(
    tmp_path: Path,
) -> None:
    """lab2's key is refused at its first request: it is dropped with a message, main sends every
    task, and the run ends done (exit 0) with the summary naming the dropped account."""
    main = sim_app("fast", seed=3, time_scale=SCALE)
    refused = RevokeAfter(sim_app("fast", seed=4, time_scale=SCALE), 0)
    summary, engine = await run_accounts(
        tmp_path, make_specs(12, model=MODEL), {"main": main, "lab2": refused}
    )
    assert summary.done == 12 and summary.unfinished == 0
    assert engine.account_error is None and exit_code(summary, engine.account_error) == 0
    assert set(summary.dropped_accounts) == {"lab2"}
    assert "Account 'lab2' was taken out of the run" in render_summary(summary)
    assert len(ledger(main)["submissions"]) == 12 and not ledger(refused.app)["submissions"]
    assert set(owners(tmp_path).values()) == {"main"}


@pytest.mark.anyio
@pytest.mark.virtual_time
async def test_an_account_refused_mid_run_keeps_what_it_sent_for_a_later_run(tmp_path: Path) -> None:
    """lab2's key is revoked once it accepted 3 tasks: the unsubmitted tasks finish on main, the 3
    stay journalled under lab2 (sending them elsewhere could pay twice) and the run exits 5. With
    the key restored, the next run finishes those 3 on lab2: every task done, each paid once."""
    specs = make_specs(20, model=MODEL)
    main = sim_app("fast", seed=5, time_scale=SCALE)
    lab2 = RevokeAfter(sim_app("fast", seed=6, time_scale=SCALE), 3)
    first, engine = await run_accounts(tmp_path, specs, {"main": main, "lab2": lab2})
    assert set(first.dropped_accounts) == {"lab2"} and first.unfinished == 3
    assert exit_code(first, engine.account_error) == 5
    stuck = {task for task, account in owners(tmp_path).items() if account == "lab2"}
    assert len(stuck) == 3

    lab2.app.state.simulator.config = lab2.app.state.simulator.config.replace(api_key=SIM_API_KEY)
    second, engine = await run_accounts(tmp_path, specs, {"main": main, "lab2": lab2.app})
    assert second.done == 20 and second.unfinished == 0 and engine.account_error is None
    assert {task for task, account in sent_by(tmp_path, {"main": main, "lab2": lab2.app}).items()
            if account == "lab2"} == stuck  # fmt: skip
    assert len(ledger(main)["submissions"]) == 17 and len(ledger(lab2.app)["submissions"]) == 3
    assert ledger(main)["duplicate_bodies"] == ledger(lab2.app)["duplicate_bodies"] == 0


@pytest.mark.anyio
@pytest.mark.virtual_time
async def test_each_account_keeps_its_own_quota(tmp_path: Path) -> None:
    """An account whose quota is lower (2 at once, 2/s) next to one at the model's 5: each
    simulator's peak is its own account's quota, and the larger account takes more of the work."""
    apps = {
        name: sim_app("fast", seed=seed, time_scale=SCALE, concurrency_mode="reject")
        for name, seed in (("small", 11), ("large", 12))
    }
    small = EngineConfig(2, 2.0, time_scale=SCALE, worker_threads=False, quotas={MODEL: Quota(2.0, 2)})
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        store.add_tasks(make_specs(28, model=MODEL))
        async with sim_client(apps["small"]) as one, sim_client(apps["large"]) as other:
            links = [
                AccountLink(one, ENDPOINTS["sim"], "small", small),
                AccountLink(other, ENDPOINTS["sim"], "large"),
            ]
            config = EngineConfig(5, 5.0, time_scale=SCALE, worker_threads=False)
            summary = await Engine(store, links, tmp_path, config, seed=1).run()
    assert summary.done == 28
    assert ledger(apps["small"])["peak_running"] == {MODEL: 2}
    assert ledger(apps["large"])["peak_running"] == {MODEL: 5}
    shares = Counter(owners(tmp_path).values())
    assert shares["large"] > 1.5 * shares["small"]


@pytest.mark.anyio
@pytest.mark.virtual_time
async def test_the_cost_cap_counts_every_accounts_tasks(tmp_path: Path) -> None:
    """--max-cost is the run's: two accounts together stop at the cap, not at twice it."""
    specs = make_specs(30, model=MODEL, resolution="720P", duration=5)
    apps = {name: sim_app("fast", seed=seed, time_scale=SCALE) for name, seed in (("main", 9), ("lab2", 10))}
    summary, _ = await run_accounts(tmp_path, specs, apps, max_cost=2.0)
    assert summary.stopped_reason == "max-cost"
    assert 0 < summary.cost <= 2.0 + 1e-9


def _write_manifest(folder: Path, urls: tuple[str, str]) -> Path:
    rows = "\n".join(
        f'  - {{id: t{i:02d}, prompt: "Scene {i} [sim-time:{40 + 3 * i}]", img_url: "https://img.example/{i}.png"}}'
        for i in range(16)
    )
    path = folder / "two.yaml"
    path.write_text(
        "name: two\nmodel: wan2.6-i2v-flash\ndefaults: {resolution: 720P, duration: 5}\n"
        f"accounts:\n  - {{name: main, endpoint: '{urls[0]}', api_key_env: MAIN_KEY}}\n"
        f"  - {{name: lab2, endpoint: '{urls[1]}', api_key_env: LAB2_KEY}}\n"
        f"tasks:\n{rows}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.slow
def test_two_served_accounts_survive_a_sigkill_and_resume_each_task_on_its_own(tmp_path: Path) -> None:
    """Two `runner sim serve` processes with different keys act as two accounts. A run with both
    is SIGKILLed once both have work; the next run finishes everything: each task was sent by one
    account only, polled and fetched there, and no simulator saw a request body twice."""
    keys = {"main": "sk-main-account-key", "lab2": "sk-lab2-account-key"}
    environment = {**os.environ, "MAIN_KEY": keys["main"], "LAB2_KEY": keys["lab2"]}
    args = ("--time-scale", "0.01", "--seed")  # each its own seed: its own task ids, as DashScope's
    with (
        spawn_server(*args, "8", api_key=keys["main"]) as main,
        spawn_server(*args, "9", api_key=keys["lab2"]) as lab2,
    ):
        manifest = _write_manifest(tmp_path, (main.url, lab2.url))
        command = [
            sys.executable,
            "-m",
            "runner",
            "run",
            str(manifest),
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
        process = subprocess.Popen(
            command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while not all(
            fetch_ledger(s.url, keys[n], timeout=10)["submissions"]
            for n, s in (("main", main), ("lab2", lab2))
        ):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        final = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=120, check=False
        )
        assert final.returncode == 0, final.stdout + final.stderr
        books = {"main": fetch_ledger(main.url, keys["main"]), "lab2": fetch_ledger(lab2.url, keys["lab2"])}
    with Store.open(tmp_path / "two" / JOURNAL_NAME) as store:
        records = store.records()
    assert [record.state for record in records] == [TaskState.DONE] * 16
    created = {name: {entry["task_id"] for entry in book["submissions"]} for name, book in books.items()}
    for record in records:
        assert record.account in keys and record.task_id in created[record.account]
    bodies = Counter(entry["request_sha256"] for book in books.values() for entry in book["submissions"])
    assert max(bodies.values()) == 1, "a task was sent twice"
    assert all(book["submissions"] for book in books.values())
    assert all(max(book["peak_running"].values()) <= 5 for book in books.values())  # never beyond a quota
    assert "Done: 16 of 16" in final.stdout
    status = subprocess.run(
        [sys.executable, "-m", "runner", "status", str(tmp_path / "two"), "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    shares = json.loads(status.stdout)["accounts"]
    assert {name: share["counts"].get("done", 0) for name, share in shares.items()} == {
        name: sum(1 for record in records if record.account == name) for name in keys
    }
    assert all(share["cost"] > 0 for share in shares.values())
    table = subprocess.run(
        [sys.executable, "-m", "runner", "status", str(tmp_path / "two")],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "Per account" in table.stdout and "lab2" in table.stdout


def test_one_command_drives_two_embedded_simulator_accounts(tmp_path: Path) -> None:
    """`runner run` of a manifest with two `sim` accounts: one simulator each (its own memory
    file, its own seed, so never the same task id), both used, every task done once."""
    rows = "".join(
        f'  - {{id: e{i}, prompt: "Scene {i}", img_url: "https://img.example/{i}.png"}}\n' for i in range(12)
    )
    manifest = tmp_path / "embedded.yaml"
    manifest.write_text(
        "name: embedded\nmodel: wan2.6-i2v-flash\ndefaults: {audio: false}\n"
        "accounts:\n  - {name: a, endpoint: sim}\n  - {name: b, endpoint: sim}\n"
        f"tasks:\n{rows}",
        encoding="utf-8",
    )
    command = ["run", str(manifest), "--out", str(tmp_path), "--no-progress", "--sim-time-scale", "0.002"]
    result = subprocess.run(
        [sys.executable, "-m", "runner", *command, "--sim-seed", "4"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    folder = tmp_path / "embedded"
    assert (folder / "simulator-a.jsonl").is_file() and (folder / "simulator-b.jsonl").is_file()
    with Store.open(folder / JOURNAL_NAME) as store:
        records = store.records()
    assert {record.state for record in records} == {TaskState.DONE}
    assert {record.account for record in records} == {"a", "b"}
    assert len({record.task_id for record in records}) == 12
