"""`runner run MANIFEST`.

`run` executes the manifest's tasks (resuming whatever the run folder's journal says is
unfinished), shows progress, prints a summary and exits 0 all done · 1 bad input ·
3 finished with failed tasks · 4 stopped early, resumable · 5 account-level error.
With several accounts (the manifest's `accounts:`, none picked), one process drives them all.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import click
from rich.console import Console

from runner.cli import embedded_sim
from runner.cli.exitcodes import EXIT_ACCOUNT, EXIT_FAILED_TASKS, EXIT_OK, EXIT_STOPPED
from runner.cli.interrupts import Interrupts
from runner.cli.links import AccountPlan, account_plans, open_links
from runner.cli.logs import run_logging
from runner.cli.options import load_from_options, manifest_options
from runner.cli.ownership import check_sidecars, claim_folder
from runner.cli.progress import show_progress
from runner.cli.quiet import conclude, quiet_option
from runner.cli.ray_shards import run_on_ray
from runner.cli.terminal import terminal_safe
from runner.cli.wiring import DEFAULT_SIM_TIME_SCALE, SimOptions, simulator_time_scale
from runner.core import (
    TERMINAL_STATES,
    AccountError,
    ConfigError,
    Endpoint,
    JournalDamagedError,
    RunSummary,
    TaskState,
)
from runner.engine import (
    DEFAULT_QUEUE_AHEAD,
    NO_TRACE,
    AccountLink,
    Engine,
    EngineConfig,
    Trace,
    UploadSettings,
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
from runner.manifest import Manifest, Slice, run_folder
from runner.outputs import describe_edits, keep_earlier_videos, render_summary, write_report
from runner.planning import Quota, catalogue_quota, model_quotas

__all__ = ["COMMANDS", "exit_code", "run"]

log = logging.getLogger("runner")


@click.command()
@click.argument("manifest", type=click.Path(path_type=Path))  # the loader explains a folder
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True
)
@manifest_options
@click.option(
    "--queue-ahead", type=click.IntRange(min=0), help="Tasks submitted beyond the concurrency quota."
)
@click.option(
    "--data-url-max",
    type=click.IntRange(min=0),
    help="Local images up to this many bytes go inline as data: URLs; larger are uploaded (default 1 MB).",
)
@click.option("--max-attempts", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--retry-failed", is_flag=True, help="Submit again failed/expired tasks worth retrying.")
@click.option("--retry-code", multiple=True, help="With --retry-failed: also retry this error code.")
@click.option("--verify", is_flag=True, help="Check every done video's SHA-256 (its size is always checked).")
@click.option(
    "--max-video-mb",
    type=click.FloatRange(min=1),
    help="Refuse a video larger than this (default: 64 MB plus 8-16 MB per second of video).",
)
@click.option("--api-key-file", type=click.Path(path_type=Path, dir_okay=False), help="File holding the key.")
@click.option("--sim-profile", default="default", show_default=True, help="Embedded simulator preset.")
@click.option(
    "--sim-time-scale", type=click.FloatRange(min=0, min_open=True),
    help=f"Embedded simulator: real seconds per simulated second (default {DEFAULT_SIM_TIME_SCALE}, "
    "the fast profile's 0.001; 1 is real time).",
)  # fmt: skip
@click.option("--sim-seed", type=int, help="Embedded simulator seed.")
@click.option("--progress/--no-progress", default=None, help="Live display (default: on a terminal).")
@click.option("--verbose", is_flag=True, help="Debug logs, HTTP requests included (the key is redacted).")
@quiet_option
@click.option(
    "--trace",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write each task's steps with their times to this file (JSON lines): where a slot's seconds go.",
)
@click.option("--ray", is_flag=True, help="Run --shards N shards as Ray tasks, then merge them.")
@click.option("--ray-address", help="With --ray: the Ray cluster to use (default: start a local one).")
@click.option("--shards", type=click.IntRange(min=1), help="With --ray: how many shards.")
def run(
    manifest: Path,
    out: Path,
    queue_ahead: int | None,
    data_url_max: int | None,
    max_attempts: int,
    retry_failed: bool,
    retry_code: tuple[str, ...],
    verify: bool,
    max_video_mb: float | None,
    api_key_file: Path | None,
    sim_profile: str,
    sim_time_scale: float | None,
    sim_seed: int | None,
    progress: bool | None,
    verbose: bool,
    quiet: bool,
    trace: Path | None,
    ray: bool,
    ray_address: str | None,
    shards: int | None,
    **options: Any,
) -> None:
    """Run MANIFEST's tasks: submit within quota, poll, download, verify; resume on re-run.

    Finished tasks are never touched again; in-flight ones are polled again; uncertain
    submissions are looked up before anything is resent. Ctrl-C stops cleanly (exit 4).
    """
    if ray or shards is not None or ray_address is not None:
        if trace is not None:
            raise ConfigError(
                "--trace records one process's run: leave it out with --ray (shards run apart)."
            )
        sys.exit(_on_ray(manifest, out, options, ray, shards, ray_address))
    loaded = load_from_options(manifest, options)
    plans = account_plans(loaded, api_key_file)
    endpoint = plans[0].endpoint
    folder = run_folder(loaded, out)
    console = Console(highlight=False)
    live = not quiet and (console.is_terminal if progress is None else progress)
    keys = [plan.key for plan in plans]
    # the handlers stay until the summary is out: a 2nd Ctrl-C then quits, never a traceback
    with Interrupts() as interrupts, run_logging(console, live, secrets=keys, verbose=verbose, quiet=quiet):
        configs = [
            replace(
                _engine_config(
                    replace(loaded, limits=plan.limits),
                    queue_ahead,
                    data_url_max,
                    max_attempts,
                    retry_failed,
                    retry_code,
                ),
                verify=verify,
                max_video_mb=max_video_mb,
            )
            for plan in plans
        ]
        with _open_journal(folder) as store:
            rebuild = store.new and has_earlier_run(folder)
            if rebuild:
                check_sidecars(folder, endpoint)
            for plan in plans:
                claim_folder(store, folder, plan.endpoint, plan.key, account=plan.name)
            whole = loaded.whole()
            changed = store.add_tasks(loaded.specs, whole.positions)
            if rebuild:
                rebuilt = rebuild_journal(store, folder)
                log.warning("The journal was missing or empty; rebuilt from the folder: %s.", rebuilt)
            keep_earlier_videos(folder, store)
            if changed:
                log.warning("%s", describe_edits(changed, loaded.specs, endpoint))
            # A re-run with nothing left to do keeps the facts of the run that did the work.
            states = store.counts(earlier_versions=True)
            has_work = retry_failed or any(state not in TERMINAL_STATES for state in states)
            if has_work:
                _record_run_start(store, manifest, endpoint, whole)
                store.set_meta(ACCOUNT_META, ", ".join(plan.name for plan in plans if plan.name))
            sim = SimOptions(sim_profile, simulator_time_scale(sim_profile, sim_time_scale), sim_seed)
            embedded_sim.remember_sim_options(store, endpoint, sim)
            with _tracing(trace) as steps:
                engine, summary = anyio.run(
                    _execute, store, folder, list(zip(plans, configs, strict=True)), sim, loaded, console,
                    live, interrupts, steps,
                )  # fmt: skip
            if has_work:
                _record_run_end(store, summary)
            write_report(folder, store)
        code = exit_code(summary, engine.account_error)
        output = f"Output: {folder}/ (videos/, status.csv, status.parquet, report.html, {JOURNAL_NAME})"
        conclude([render_summary(summary), output], quiet=quiet, ok=code == EXIT_OK)
        if engine.account_error is not None:
            click.echo(f"Error: {terminal_safe(str(engine.account_error))}", err=True)
    sys.exit(code)


async def _execute(
    store: Store,
    folder: Path,
    accounts: list[tuple[AccountPlan, EngineConfig]],
    sim: SimOptions,
    loaded: Manifest,
    console: Console,
    live: bool,
    interrupts: Interrupts,
    trace: Trace,
) -> tuple[Engine, RunSummary]:
    plans = [plan for plan, _ in accounts]
    try:
        async with open_links(plans, sim, folder) as connections:
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
                for (plan, config), connection in zip(accounts, connections, strict=True)
            ]
            ids = [spec.id for spec in loaded.specs]
            config = links[0].config or accounts[0][1]
            engine = Engine(store, links, folder, config, task_ids=ids, trace=trace)
            interrupts.arm(lambda: engine.request_stop("interrupted"))
            async with anyio.create_task_group() as group:
                group.start_soon(show_progress, engine.snapshot, console, live)
                summary = await engine.run()
                group.cancel_scope.cancel()
    finally:
        interrupts.disarm()
    return engine, summary


def _on_ray(
    manifest: Path, out: Path, options: dict[str, Any], ray: bool, shards: int | None, address: str | None
) -> int:
    if not ray or shards is None or options.get("shard"):
        raise ConfigError("Run shards on Ray with --ray --shards N (and no --shard: Ray runs them all).")
    loaded = load_from_options(manifest, options)
    context = click.get_current_context()
    return run_on_ray(context.command, manifest, loaded, out, context.params, count=shards, address=address)


@contextmanager
def _tracing(path: Path | None) -> Iterator[Trace]:
    """The run's trace: written to `path`, or none."""
    if path is None:
        yield NO_TRACE
        return
    try:
        with Trace.to_file(path) as trace:
            yield trace
    except OSError as error:
        raise ConfigError(f"The trace file {path} cannot be written ({error.strerror}).") from None


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


def exit_code(summary: RunSummary, account_error: AccountError | None) -> int:
    """5 account error · 4 stopped early or unfinished (resumable) · 3 failed tasks · 0 all done."""
    if account_error is not None:
        return EXIT_ACCOUNT
    if summary.stopped_reason or summary.unfinished:
        return EXIT_STOPPED
    if summary.failed or summary.expired or summary.cancelled:
        return EXIT_FAILED_TASKS
    return EXIT_OK


def _engine_config(
    loaded: Manifest,
    queue_ahead: int | None,
    data_url_max: int | None,
    max_attempts: int,
    retry_failed: bool,
    retry_codes: tuple[str, ...],
) -> EngineConfig:
    """Limits: flags over manifest over each model's catalogue quota (quotas are per model).

    A limit above a model's catalogue quota is kept (accounts can have raised quotas) but warned about.
    """
    limits = loaded.limits
    models = sorted({spec.model for spec in loaded.specs})
    quotas = model_quotas(models, limits)
    for model in models:
        _warn_above_quota(model, quotas[model])
    ahead = queue_ahead if queue_ahead is not None else limits.queue_ahead
    inline_max = data_url_max if data_url_max is not None else limits.data_url_max
    uploads = UploadSettings() if inline_max is None else UploadSettings(data_url_max=inline_max)
    return EngineConfig(
        # a model not in the manifest (an earlier manifest's task still in flight): the least quota
        concurrency=min((quota.concurrency for quota in quotas.values()), default=1),
        submit_rate=min((quota.submit_rate for quota in quotas.values()), default=1.0),
        quotas=quotas,
        queue_ahead=DEFAULT_QUEUE_AHEAD if ahead is None else ahead,
        max_cost=limits.max_cost,
        max_wall_time=limits.max_wall_time,
        max_attempts=max_attempts,
        retry_failed=retry_failed,
        retry_codes=frozenset(retry_codes),
        uploads=uploads,
    )


def _warn_above_quota(model: str, quota: Quota) -> None:
    usual = catalogue_quota(model)
    if quota.concurrency > usual.concurrency or quota.submit_rate > usual.submit_rate:
        log.warning(
            "Limits above %s's usual quota (%d at once, %g/s): %d at once, %g/s. Keep them only if "
            "your account's quota was raised; otherwise DashScope will throttle the run.",
            model,
            usual.concurrency,
            usual.submit_rate,
            quota.concurrency,
            quota.submit_rate,
        )


def _with_clock(config: EngineConfig, time_scale: float, learn_clock: bool) -> EngineConfig:
    return replace(config, time_scale=time_scale, learn_clock=learn_clock)


def _record_run_start(store: Store, manifest: Path, endpoint: Endpoint, whole: Slice) -> None:
    """Run information for `runner status`, report.html and `runner merge` (never the key)."""
    store.set_meta("manifest", str(manifest))
    store.set_meta(MANIFEST_PRINT_META, whole.manifest_print)
    store.set_meta(MANIFEST_TASKS_META, str(whole.manifest_tasks))
    store.set_meta(SHARD_META, str(whole.shard) if whole.shard else "")
    store.set_meta("endpoint", endpoint.name if endpoint.name != "custom" else endpoint.base_url)
    store.set_meta("currency", endpoint.currency)
    store.set_meta("started_at", f"{time.time():.3f}")
    for name in ("finished_at", "wall_time_s", "efficiency", STOP_REASON_META):  # this run's, once it ends
        store.set_meta(name, "")


def _record_run_end(store: Store, summary: RunSummary) -> None:
    store.set_meta("finished_at", f"{time.time():.3f}")
    store.set_meta("wall_time_s", f"{summary.wall_time_s:.3f}")
    store.set_meta(STOP_REASON_META, summary.stopped_reason or "")
    if summary.efficiency is not None:
        store.set_meta("efficiency", f"{summary.efficiency:.4f}")


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


COMMANDS: list[click.Command] = [run]
