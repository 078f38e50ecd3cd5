"""What a run of a manifest would do, cost and take, without contacting any server:
`runner plan` and `runner.plan` share it.

The plan is the manifest's tasks against the run folder's journal (read-only, no lock), with
each model's cost and time at its quota, or at the accounts' quotas side by side.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from runner.core import Endpoint, TaskRecord, resolve_endpoint
from runner.journal import JOURNAL_NAME, Store
from runner.manifest import Account, Manifest, account_limits, run_folder
from runner.planning import Plan, PlannedTask, build_plan, disposition_counts
from runner.session.frames import frame_of
from runner.session.options import ManifestOptions
from runner.session.ownership import foreign_owner
from runner.session.sources import ManifestInput, load_source
from runner.session.wiring import simulator_time_scale

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunPlan", "plan_run"]


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What a run of the manifest would do now: each task's disposition, the cost and time."""

    manifest: Manifest
    folder: Path
    plan: Plan
    has_journal: bool  #: the folder has a journal (a run has started there)

    @property
    def tasks(self) -> list[PlannedTask]:
        return self.plan.tasks

    @property
    def to_run(self) -> int:
        """Tasks a plain run would work on: new, changed, in flight."""
        return self.plan.to_run

    @property
    def cost(self) -> float:
        """Estimated cost of what would run, in `currency`."""
        return self.plan.total_cost

    @property
    def currency(self) -> str:
        return self.plan.currency

    @property
    def wall_time_s(self) -> float:
        """Estimated seconds on the service, at the quotas (see `sim_wall_time_s` for `sim`)."""
        return self.plan.wall_s

    @property
    def sim_wall_time_s(self) -> float | None:
        """On the built-in simulator: the same time at its default speed; None elsewhere."""
        if not self.plan.endpoint.is_simulator:
            return None
        return self.plan.wall_s * simulator_time_scale("default")

    @property
    def table(self) -> pd.DataFrame:
        """One row per task: id, key, model, resolution, duration, seed, prompt, status, cost…"""
        return frame_of(cast(list[dict[str, Any]], self.to_dict()["tasks"]))

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data (`runner plan --json`)."""
        return _plan_data(self.manifest, self.plan, self.folder, self.has_journal)


def plan_run(manifest: ManifestInput, options: ManifestOptions) -> RunPlan:
    """The plan of `manifest` with `options` against its run folder's journal."""
    options = cast(ManifestOptions, {key: value for key, value in options.items() if value is not None})
    loaded = load_source(manifest, options)
    folder = run_folder(loaded, Path(options.get("out", "outputs")))
    pooled = loaded.accounts if loaded.account is None else ()
    endpoint = resolve_endpoint(pooled[0].endpoint if pooled else loaded.endpoint)
    records, foreign = _read_journal(folder, endpoint)
    flags = {key: options.get(key) for key in ("concurrency", "submit_rate")}
    each = [account_limits(loaded.limits, account, flags) for account in pooled]
    result = build_plan(loaded.specs, records or [], endpoint, loaded.limits, each)
    if foreign is not None:
        result.notes.append(foreign)
    if pooled:
        result.notes.append(_accounts_note(pooled, endpoint))
    return RunPlan(loaded, folder, result, records is not None)


def _read_journal(folder: Path, endpoint: Endpoint) -> tuple[list[TaskRecord] | None, str | None]:
    """The records of the run folder's journal (None when the run has not started), unless the
    folder belongs to another endpoint: then no records, and a note saying so."""
    store = Store.open_readonly(folder / JOURNAL_NAME)
    if store is None:
        return None, None
    with store:
        owner = foreign_owner(store, endpoint)
        if owner is None:
            return store.records(), None
    note = (
        f"{folder} holds tasks of the {owner} endpoint: none of them counts for {endpoint.identity}, "
        "and `runner run` would refuse the folder. Give this endpoint its own folder (--name or --out)."
    )
    return None, note


def _accounts_note(accounts: Sequence[Account], endpoint: Endpoint) -> str:
    names = ", ".join(account.name for account in accounts)
    note = (
        f"Time estimated for {len(accounts)} accounts side by side ({names}): their quotas add up. "
        "`runner run` drives them all in one process; or run one shard per account "
        f"(--shard i/{len(accounts)}), or all of them with --ray."
    )
    regions = {resolve_endpoint(account.endpoint).price_region for account in accounts}
    if len(regions) > 1:
        note += (
            f" Costs are at {endpoint.price_region} prices; each account pays its own region's, and "
            "accounts of different regions run as shards of their own."
        )
    return note


def _plan_data(manifest: Manifest, result: Plan, folder: Path, has_journal: bool) -> dict[str, Any]:
    limits = manifest.limits
    return {
        "manifest": manifest.source,
        "name": manifest.name,
        "run_folder": str(folder),
        "journal_exists": has_journal,
        "endpoint": result.endpoint.name,
        "currency": result.currency,
        "total": len(result.tasks),
        "to_run": result.to_run,
        "counts": dict(disposition_counts(result)),
        "tasks": [
            {
                "id": task.spec.id,
                "key": task.spec.key,
                "model": task.spec.model,
                "resolution": task.spec.resolution,
                "duration": task.spec.duration,
                "seed": task.spec.seed,
                "prompt": task.spec.prompt,
                "status": task.disposition.value,
                "journal_state": task.state.value if task.state else None,
                "cost": task.cost,
                "location": task.spec.location,
            }
            for task in result.tasks
        ],
        "cost": {
            "total": round(result.total_cost, 6),
            "retry_failed": round(result.retry_cost, 6),
            "by_model_resolution": [
                {
                    "model": line.model,
                    "resolution": line.resolution,
                    "tasks": line.tasks,
                    "seconds": line.seconds,
                    "cost": round(line.cost, 6),
                    "unpriced": line.unpriced,
                }
                for line in result.costs
            ],
        },
        "wall_time": {
            "seconds": round(result.wall_s, 1),
            "by_model": [
                {
                    "model": e.model,
                    "tasks": e.tasks,
                    "submit_rate": e.submit_rate,
                    "concurrency": e.concurrency,
                    "seconds": round(e.wall_s, 1),
                }
                for e in result.estimates
            ],
        },
        "limits": {
            "concurrency": limits.concurrency,
            "submit_rate": limits.submit_rate,
            "max_cost": limits.max_cost,
            "max_wall_time": limits.max_wall_time,
            "queue_ahead": limits.queue_ahead,
            "models": {model: dataclasses.asdict(own) for model, own in limits.models.items()},
        },
        "warnings": list(manifest.warnings),
        "notes": list(result.notes),
    }
