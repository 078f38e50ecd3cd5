"""`runner cancel MANIFEST`: cancel the run's tasks still queued (PENDING) on DashScope (or on
the built-in simulator, reopened with the settings the run recorded).

Each task is cancelled with the key of the account that sent it (the journal names it), so a
run that drove several accounts is cancelled on all of them by one command.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import click

from runner.api import DashScopeClient
from runner.cli.options import load_from_options, shard_option
from runner.cli.terminal import terminal_safe
from runner.core import ApiError, ConfigError, Event, TaskRecord, TaskRejectedError, TaskState
from runner.engine import Pacer
from runner.journal import JOURNAL_NAME, Store
from runner.manifest import run_folder
from runner.session import (
    SIM_CANCEL_NOTE,
    SIM_FORGOT_NOTE,
    AccountPlan,
    SimOptions,
    account_plans,
    check_owner,
    open_links,
    recorded_sim_options,
)

__all__ = ["COMMANDS", "cancel"]


@click.command()
@click.argument("manifest", type=click.Path(path_type=Path))  # the loader explains a folder
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), default=Path("outputs"), show_default=True
)
@click.option("--name", help="Run name, when the run was started with --name.")
@click.option("--endpoint", help="sim, beijing, singapore, virginia or a base URL (default: the manifest's).")
@shard_option
@click.option("--account", help="Only the tasks this account sent (of the manifest's `accounts:`).")
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
    folder = run_folder(loaded, out)
    if not (folder / JOURNAL_NAME).is_file():
        raise ConfigError(
            f"{folder} has no journal: `runner run {manifest}` has not started, nothing to cancel."
        )
    plans = account_plans(loaded, api_key_file)
    on_sim = plans[0].endpoint.is_simulator
    with Store.open(folder / JOURNAL_NAME) as store:
        check_owner(store, folder, plans[0].endpoint)
        sim = recorded_sim_options(store, folder) if on_sim else SimOptions()
        lines = anyio.run(_cancel_all, store, plans, folder, sim)
    for line in lines:
        click.echo(terminal_safe(line))


async def _cancel_all(store: Store, plans: list[AccountPlan], folder: Path, sim: SimOptions) -> list[str]:
    on_sim = plans[0].endpoint.is_simulator
    lines = [SIM_CANCEL_NOTE] if on_sim else []
    cancelled = 0
    async with open_links(plans, sim, folder) as connections:
        records = store.records([TaskState.PENDING, TaskState.RUNNING])
        if records and any(connection.forgets_tasks for connection in connections):
            return [SIM_FORGOT_NOTE]
        clients = {plan.name: connection.client for plan, connection in zip(plans, connections, strict=True)}
        pacer = Pacer(15.0)
        server = "the built-in simulator" if on_sim else "DashScope"
        for record in records:
            client = _client_of(record, plans, clients)
            if client is None:
                lines.append(f"{record.id}: sent with the account {record.account!r}, which is not listed.")
                continue
            if record.state is TaskState.RUNNING or record.task_id is None:
                lines.append(f"{record.id}: running on {server}; running tasks cannot be cancelled.")
                continue
            await pacer.wait()
            line = await _cancel_one(store, client, record)
            cancelled += line is None
            if line is not None:
                lines.append(line)
    planned = store.counts().get(TaskState.PLANNED, 0)
    lines.append(f"Cancelled {cancelled} queued task(s).")
    if planned:
        lines.append(f"{planned} task(s) were never submitted; `runner run` would submit them.")
    return lines


def _client_of(
    record: TaskRecord, plans: list[AccountPlan], clients: dict[str, DashScopeClient]
) -> DashScopeClient | None:
    """The client of the account that sent the task (a task with none on record: the first's)."""
    if record.account is None:
        return clients[plans[0].name]
    return clients.get(record.account)


async def _cancel_one(store: Store, client: DashScopeClient, record: TaskRecord) -> str | None:
    """Cancel one queued task; None when it was cancelled, else the line saying why not."""
    assert record.task_id is not None
    try:
        await client.cancel(record.task_id)
    except TaskRejectedError:
        return f"{record.id}: already running or finished; it cannot be cancelled."
    except ApiError as error:
        return f"{record.id}: not cancelled: {error}"
    store.transition(record.id, Event.CANCELLED, detail={"by": "runner cancel"})
    return None


COMMANDS: list[click.Command] = [cancel]
