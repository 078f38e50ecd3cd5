"""`runner run MANIFEST` and `runner cancel MANIFEST`.

`run` executes the manifest's tasks (resuming whatever the run folder's journal says is
unfinished), shows progress, prints a summary and exits 0 all done · 1 bad input ·
3 finished with failed tasks · 4 stopped early, resumable · 5 account-level error.
`cancel` cancels the run's tasks still queued (PENDING) on DashScope.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import click
from rich.console import Console

from runner.cli.exitcodes import EXIT_ACCOUNT, EXIT_FAILED_TASKS, EXIT_OK, EXIT_STOPPED
from runner.cli.interrupts import Interrupts
from runner.cli.logs import run_logging
from runner.cli.options import load_from_options, manifest_options, shard_option
from runner.cli.ownership import check_owner, check_sidecars, claim_folder
from runner.cli.progress import show_progress
from runner.cli.ray_shards import run_on_ray
from runner.cli.terminal import terminal_safe
from runner.cli.wiring import (
    DEFAULT_SIM_TIME_SCALE,
    SIM_MEMORY_NAME,
    SimOptions,
    open_connection,
    resolve_api_key,
)
from runner.core import (
    TERMINAL_STATES,
    AccountError,
    ApiError,
    ConfigError,
    Endpoint,
    Event,
    JournalDamagedError,
    RunSummary,
    TaskRejectedError,
    TaskState,
    resolve_endpoint,
)
from runner.engine import (
    DEFAULT_QUEUE_AHEAD,
    Engine,
    EngineConfig,
    Pacer,
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
from runner.outputs import describe_edits, keep_earlier_videos, refresh_report, render_summary
from runner.planning import Quota, catalogue_quota, model_quotas

__all__ = ["COMMANDS", "cancel", "exit_code", "run"]

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
    "--sim-time-scale", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_SIM_TIME_SCALE,
    show_default=True, help="Embedded simulator: real seconds per simulated second.",
)  # fmt: skip
@click.option("--sim-seed", type=int, help="Embedded simulator seed.")
@click.option("--progress/--no-progress", default=None, help="Live display (default: on a terminal).")
@click.option("--verbose", is_flag=True, help="Debug logs, HTTP requests included (the key is redacted).")
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
    sim_time_scale: float,
    sim_seed: int | None,
    progress: bool | None,
    verbose: bool,
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
        sys.exit(_on_ray(manifest, out, options, ray, shards, ray_address))
    loaded = load_from_options(manifest, options)
    endpoint = resolve_endpoint(loaded.endpoint)
    key = _api_key(loaded, endpoint, api_key_file)
    folder = run_folder(loaded, out)
    console = Console(highlight=False)
    live = console.is_terminal if progress is None else progress
    # the handlers stay until the summary is out: a 2nd Ctrl-C then quits, never a traceback
    with Interrupts() as interrupts, run_logging(console, live, secrets=[key], verbose=verbose):
        config = _engine_config(loaded, queue_ahead, data_url_max, max_attempts, retry_failed, retry_code)
        config = replace(config, verify=verify, max_video_mb=max_video_mb)
        with _open_journal(folder) as store:
            rebuild = store.new and has_earlier_run(folder)
            if rebuild:
                check_sidecars(folder, endpoint)
            claim_folder(store, folder, endpoint, key)
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
                store.set_meta(ACCOUNT_META, loaded.account.name if loaded.account else "")
            sim = SimOptions(sim_profile, sim_time_scale, sim_seed, memory=folder / SIM_MEMORY_NAME)
            engine, summary = anyio.run(
                _execute, store, folder, endpoint, key, config, sim, loaded, console, live, interrupts
            )
            if has_work:
                _record_run_end(store, summary)
            refresh_report(folder, store)  # the run's last page: its end is recorded
        click.echo(terminal_safe(render_summary(summary)))
        click.echo(f"Output: {folder}/ (videos/, status.csv, status.parquet, report.html, {JOURNAL_NAME})")
        code = exit_code(summary, engine.account_error)
        if engine.account_error is not None:
            click.echo(f"Error: {terminal_safe(str(engine.account_error))}", err=True)
    sys.exit(code)


async def _execute(
    store: Store,
    folder: Path,
    endpoint: Endpoint,
    key: str,
    config: EngineConfig,
    sim: SimOptions,
    loaded: Manifest,
    console: Console,
    live: bool,
    interrupts: Interrupts,
) -> tuple[Engine, RunSummary]:
    try:
        async with open_connection(endpoint, key, sim) as connection:
            if connection.forgets_tasks:
                _warn_sim_forgot(store)
            config = _with_clock(config, connection.time_scale, connection.learn_clock)
            ids = [spec.id for spec in loaded.specs]
            engine = Engine(store, connection.client, folder, endpoint, config, task_ids=ids)
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
    loaded = load_from_options(manifest, options, one_account=False)
    context = click.get_current_context()
    return run_on_ray(context.command, manifest, loaded, out, context.params, count=shards, address=address)


def _api_key(loaded: Manifest, endpoint: Endpoint, key_file: Path | None) -> str:
    """The key of the account this process drives: --api-key-file, else its file or variable."""
    account = loaded.account
    if account is None or key_file is not None:
        return resolve_api_key(endpoint, key_file)
    return resolve_api_key(endpoint, account.key_file, account.key_env)


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


def _warn_sim_forgot(store: Store) -> None:
    counts = store.counts()
    in_flight = sum(counts.get(s, 0) for s in (TaskState.PENDING, TaskState.RUNNING, TaskState.SUCCEEDED))
    if in_flight:
        log.warning(
            "%d tasks were in flight when the last run stopped, but the built-in simulator has no "
            "memory of them: %s is missing or was written with other simulator settings. They will "
            "be reported expired (re-run with --retry-failed to generate them).",
            in_flight,
            SIM_MEMORY_NAME,
        )


@click.command()
@click.argument("manifest", type=click.Path(path_type=Path))  # the loader explains a folder
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True
)
@click.option("--name", help="Run name, when the run was started with --name.")
@click.option("--endpoint", help="sim, beijing, singapore, virginia or a base URL (default: the manifest's).")
@shard_option
@click.option("--account", help="The account the run used (of the manifest's `accounts:`).")
@click.option("--accounts", "accounts_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--api-key-file", type=click.Path(path_type=Path, dir_okay=False), help="File holding the key.")
def cancel(
    manifest: Path,
    out: Path,
    name: str | None,
    endpoint: str | None,
    shard: str | None,
    account: str | None,
    accounts_file: Path | None,
    api_key_file: Path | None,
) -> None:
    """Cancel MANIFEST's tasks still queued (PENDING) on DashScope; running ones cannot be cancelled."""
    options = {"name": name, "endpoint": endpoint, "shard": shard, "account": account}
    loaded = load_from_options(manifest, options | {"accounts_file": accounts_file})
    target = resolve_endpoint(loaded.endpoint)
    folder = run_folder(loaded, out)
    if not (folder / JOURNAL_NAME).is_file():
        raise ConfigError(
            f"{folder} has no journal: `runner run {manifest}` has not started, nothing to cancel."
        )
    if target.is_simulator:
        raise ConfigError(
            "The built-in simulator lives inside each `runner run` process: its tasks end with it, "
            "there is nothing to cancel. Use `runner sim serve` and --endpoint http://127.0.0.1:PORT "
            "to rehearse cancellation."
        )
    key = _api_key(loaded, target, api_key_file)
    with Store.open(folder / JOURNAL_NAME) as store:
        check_owner(store, folder, target)
        lines = anyio.run(_cancel_all, store, target, key, folder)
    for line in lines:
        click.echo(terminal_safe(line))


async def _cancel_all(store: Store, endpoint: Endpoint, key: str, folder: Path) -> list[str]:
    lines: list[str] = []
    cancelled = 0
    async with open_connection(endpoint, key, SimOptions(memory=folder / SIM_MEMORY_NAME)) as connection:
        pacer = Pacer(15.0)
        for record in store.records([TaskState.PENDING, TaskState.RUNNING]):
            if record.state is TaskState.RUNNING or record.task_id is None:
                lines.append(f"{record.id}: running on DashScope; running tasks cannot be cancelled.")
                continue
            await pacer.wait()
            try:
                await connection.client.cancel(record.task_id)
            except TaskRejectedError:
                lines.append(f"{record.id}: already running or finished; it cannot be cancelled.")
                continue
            except ApiError as error:
                lines.append(f"{record.id}: not cancelled: {error}")
                continue
            store.transition(record.id, Event.CANCELLED, detail={"by": "runner cancel"})
            cancelled += 1
    planned = store.counts().get(TaskState.PLANNED, 0)
    lines.append(f"Cancelled {cancelled} queued task(s).")
    if planned:
        lines.append(f"{planned} task(s) were never submitted; `runner run` would submit them.")
    return lines


COMMANDS: list[click.Command] = [run, cancel]
