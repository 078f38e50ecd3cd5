"""The accounts one `runner run` (or `cancel`) process drives: each one's endpoint, key and limits,
and a connection to each.

A manifest without `accounts:` has one unnamed account: the manifest's endpoint and the key
of DASHSCOPE_API_KEY (or `--api-key-file`). With `accounts:` and no `--account`/`--shard`,
the process drives every listed account at once, each with the key its entry names. They
must reach the same service (one region, or all the simulator): a run folder's prices,
currency and task ids belong to one service; accounts of other regions run as shards.
Each embedded-simulator account gets a simulator of its own (its own quota), remembering its
tasks in its own file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from runner.core import ConfigError, Endpoint, resolve_endpoint
from runner.manifest import Limits, Manifest, account_limits
from runner.session.wiring import SIM_MEMORY_NAME, Connection, SimOptions, open_connection, resolve_api_key

__all__ = ["AccountPlan", "account_plans", "open_links"]


@dataclass(frozen=True, slots=True)
class AccountPlan:
    """One account as this process drives it (the key stays in memory, never in a message)."""

    name: str  #: "" for a manifest without `accounts:`
    endpoint: Endpoint
    key: str
    limits: Limits
    memory_name: str = SIM_MEMORY_NAME  #: the embedded simulator's memory file in the run folder


def account_plans(loaded: Manifest, key_file: Path | None) -> list[AccountPlan]:
    """The accounts to drive: the chosen one (or the manifest's endpoint), or all listed ones."""
    if loaded.account is not None or not loaded.accounts:
        account = loaded.account
        endpoint = resolve_endpoint(loaded.endpoint)
        if account is None or key_file is not None:
            key = resolve_api_key(endpoint, key_file)
        else:
            key = resolve_api_key(endpoint, account.key_file, account.key_env)
        return [AccountPlan(account.name if account else "", endpoint, key, loaded.limits)]
    if key_file is not None:
        msg = (
            "--api-key-file names one key, but the run drives every account of `accounts:`, each "
            "with the key its entry names (api_key_env or api_key_file). Pick one account with "
            "--account NAME to use --api-key-file."
        )
        raise ConfigError(msg)
    plans = [
        AccountPlan(
            account.name,
            endpoint := resolve_endpoint(account.endpoint),
            resolve_api_key(endpoint, account.key_file, account.key_env),
            account_limits(loaded.limits, account, {}),
            memory_name=f"simulator-{account.name}.jsonl",
        )
        for account in loaded.accounts
    ]
    _check_one_service(plans)
    return plans


def _check_one_service(plans: Sequence[AccountPlan]) -> None:
    services = {plan.endpoint.identity for plan in plans}
    if len(services) > 1:
        listing = ", ".join(f"{plan.name} ({plan.endpoint.identity})" for plan in plans)
        msg = (
            f"The accounts reach {len(services)} services ({listing}); one run folder holds one "
            "service's tasks, prices and currency. Run each region's accounts as their own run "
            "(--account NAME, or --shard i/N with one account per shard, then `runner merge`)."
        )
        raise ConfigError(msg)


@asynccontextmanager
async def open_links(
    plans: Sequence[AccountPlan], sim: SimOptions, folder: Path
) -> AsyncIterator[list[Connection]]:
    """A connection per account, in the order of `plans`, all closed on exit. Each embedded
    simulator gets a seed of its own: task ids come from it, and two accounts never share one."""
    async with AsyncExitStack() as stack:
        connections = []
        for index, plan in enumerate(plans):
            seed = None if sim.seed is None else sim.seed + index
            options = replace(sim, memory=folder / plan.memory_name, seed=seed)
            connections.append(
                await stack.enter_async_context(open_connection(plan.endpoint, plan.key, options))
            )
        yield connections
