"""One run, start to end: the code path `runner run` and `runner.run` share.

The run folder's journal is opened (a damaged one set aside and rebuilt from the folder), the
folder claimed for the run's endpoint and accounts, the manifest's tasks added, the run's
start recorded; the engine drives every account; the end is recorded, report.html and
summary.json written, and whoever asked is told. Per-task failures and an account the service
refuses are outcomes in the result, never exceptions; a bad folder or a locked journal are.

How a run is stopped is the caller's: the CLI arms its Ctrl-C handlers through a StopSwitch,
the Python API asks the engine to stop from the thread that waits for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import anyio

from runner.core import TERMINAL_STATES, JournalDamagedError, RunSummary, TaskState
from runner.engine import (
    NO_TRACE,
    AccountLink,
    Engine,
    EngineConfig,
    Snapshot,
    Trace,
    has_earlier_run,
    rebuild_journal,
)
from runner.journal import (
    ACCOUNT_META,
    JOURNAL_NAME,
    MANIFEST_PRINT_META,
    MANIFEST_TASKS_META,
    SHARD_META,
    STOP_REASON_META,
    Store,
    set_aside_damaged,
)
from runner.outputs import describe_edits, keep_earlier_videos, refresh_report
from runner.session.announce import announce
from runner.session.embedded_sim import remember_sim_options
from runner.session.exitcodes import exit_code
from runner.session.links import open_links
from runner.session.ownership import check_sidecars, claim_folder
from runner.session.preparation import PreparedRun
from runner.session.result import RunResult, failures_of, write_summary

__all__ = ["StopSwitch", "Watch", "execute"]

log = logging.getLogger("runner")

#: watches a run's progress (a live display, log lines, a callback) until cancelled
Watch = Callable[[Callable[[], Snapshot]], Coroutine[Any, Any, None]]


class StopSwitch(Protocol):
    """What stops a run early: armed with the engine's stop once the run's loop is going,
    disarmed when it ends (runner.cli.interrupts; runner.session.api's thread)."""

    def arm(self, stop: Callable[[], None]) -> None: ...

    def disarm(self) -> None: ...


async def execute(
    run: PreparedRun, watch: Watch | None = None, switch: StopSwitch | None = None, trace: Trace = NO_TRACE
) -> RunResult:
    """Run it (resuming whatever the folder's journal left unfinished) and return what it did;
    `trace` records each task's steps with their times (`runner run --trace`)."""
    for warning in run.warnings:
        log.warning("%s", warning)
    started = time.time()
    with _open_journal(run.folder) as store:
        has_work = _take_up(store, run)
        remember_sim_options(store, run.accounts[0][0].endpoint, run.sim)
        engine, summary = await _drive(store, run, watch, switch, trace)
        if has_work:
            _record_run_end(store, summary.wall_time_s, summary.stopped_reason, summary.efficiency)
        refresh_report(run.folder, store)  # the run's last page: its end is recorded
        endpoint = run.accounts[0][0].endpoint
        result = RunResult(
            summary=summary,
            folder=run.folder,
            exit_code=exit_code(summary, engine.account_error),
            manifest=run.manifest.source,
            endpoint=endpoint.name if endpoint.name != "custom" else endpoint.base_url,
            counts={state.value: count for state, count in store.counts().items()},
            failures=failures_of(store.records()),
            started_at=started,
            finished_at=time.time(),
            account_error=engine.account_error,
        )
    await announce(run.announcement, result, write_summary(result))
    return result


def _take_up(store: Store, run: PreparedRun) -> bool:
    """Claim the folder, add the manifest's tasks (rebuilding a lost journal first), and record
    the run's start; False when there is nothing left to do (the facts of the run that did the
    work are kept then)."""
    endpoint = run.accounts[0][0].endpoint
    rebuild = store.new and has_earlier_run(run.folder)
    if rebuild:
        check_sidecars(run.folder, endpoint)
    for plan, _ in run.accounts:
        claim_folder(store, run.folder, plan.endpoint, plan.key, account=plan.name)
    whole = run.manifest.whole()
    changed = store.add_tasks(run.manifest.specs, whole.positions)
    if rebuild:
        rebuilt = rebuild_journal(store, run.folder)
        log.warning("The journal was missing or empty; rebuilt from the folder: %s.", rebuilt)
    keep_earlier_videos(run.folder, store)
    if changed:
        log.warning("%s", describe_edits(changed, run.manifest.specs, endpoint))
    states = store.counts(earlier_versions=True)
    has_work = run.retry_failed or any(state not in TERMINAL_STATES for state in states)
    if has_work:
        # run information for `runner status`, report.html and `runner merge` (never the key)
        store.set_meta("manifest", run.manifest.source)
        store.set_meta(MANIFEST_PRINT_META, whole.manifest_print)
        store.set_meta(MANIFEST_TASKS_META, str(whole.manifest_tasks))
        store.set_meta(SHARD_META, str(whole.shard) if whole.shard else "")
        store.set_meta("endpoint", endpoint.name if endpoint.name != "custom" else endpoint.base_url)
        store.set_meta("currency", endpoint.currency)
        store.set_meta("started_at", f"{time.time():.3f}")
        for name in ("finished_at", "wall_time_s", "efficiency", STOP_REASON_META):  # this run's, at its end
            store.set_meta(name, "")
        store.set_meta(ACCOUNT_META, ", ".join(plan.name for plan, _ in run.accounts if plan.name))
    return has_work


async def _drive(
    store: Store, run: PreparedRun, watch: Watch | None, switch: StopSwitch | None, trace: Trace
) -> tuple[Engine, RunSummary]:
    """The engine over every account's connection, watched, stoppable through `switch`."""
    plans = [plan for plan, _ in run.accounts]
    try:
        async with open_links(plans, run.sim, run.folder) as connections:
            forgot = [plan.memory_name for plan, c in zip(plans, connections, strict=True) if c.forgets_tasks]
            if forgot:
                _warn_sim_forgot(store, ", ".join(forgot))
            links = [
                AccountLink(
                    connection.client,
                    plan.endpoint,
                    plan.name,
                    _with_clock(config, connection.time_scale, connection.learn_clock),
                )
                for (plan, config), connection in zip(run.accounts, connections, strict=True)
            ]
            ids = [spec.id for spec in run.manifest.specs]
            config = links[0].config or run.accounts[0][1]
            engine = Engine(store, links, run.folder, config, task_ids=ids, trace=trace)
            if switch is not None:
                switch.arm(lambda: engine.request_stop("interrupted"))
            async with anyio.create_task_group() as group:
                if watch is not None:
                    group.start_soon(watch, engine.snapshot)
                summary = await engine.run()
                group.cancel_scope.cancel()
    finally:
        if switch is not None:
            switch.disarm()
    return engine, summary


def _open_journal(folder: Path) -> Store:
    """The run folder's journal; a damaged one is set aside (kept) and a new one started,
    which the run then rebuilds from the folder's files."""
    path = folder / JOURNAL_NAME
    try:
        return Store.open(path)
    except JournalDamagedError as error:
        aside = set_aside_damaged(path)
        log.warning("%s It was moved to %s.", error, aside.name)
        return Store.open(path)


def _with_clock(config: EngineConfig, time_scale: float, learn_clock: bool) -> EngineConfig:
    return replace(config, time_scale=time_scale, learn_clock=learn_clock)


def _record_run_end(store: Store, wall_time_s: float, stopped: str | None, efficiency: float | None) -> None:
    store.set_meta("finished_at", f"{time.time():.3f}")
    store.set_meta("wall_time_s", f"{wall_time_s:.3f}")
    store.set_meta(STOP_REASON_META, stopped or "")
    if efficiency is not None:
        store.set_meta("efficiency", f"{efficiency:.4f}")


def _warn_sim_forgot(store: Store, memory: str) -> None:
    counts = store.counts()
    in_flight = sum(counts.get(s, 0) for s in (TaskState.PENDING, TaskState.RUNNING, TaskState.SUCCEEDED))
    if in_flight:
        log.warning(
            "%d tasks were in flight when the last run stopped, but the built-in simulator has no "
            "memory of them: %s is missing or was written with other simulator settings. They will "
            "be reported expired (re-run with --retry-failed to generate them).",
            in_flight,
            memory,
        )
