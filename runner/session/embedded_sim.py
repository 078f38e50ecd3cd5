"""The built-in simulator's settings, kept in the run's journal for `runner cancel`.

The `sim` endpoint's simulator lives inside `runner run`, but its tasks outlive the process:
it keeps them in the run folder's simulator.jsonl, and its clock runs on while no process
does, as DashScope's would (runner.simulator.memory). That file is taken up only by a
simulator with the same settings (any other starts a new timeline and rewrites it), so the
run records its profile, time scale and seed here, and `runner cancel` reopens that very
simulator to cancel what it still holds queued.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from runner.core import ConfigError, Endpoint
from runner.journal import SIM_SETTINGS_META, Store
from runner.session.wiring import SIM_MEMORY_NAME, SimOptions

__all__ = ["SIM_CANCEL_NOTE", "SIM_FORGOT_NOTE", "recorded_sim_options", "remember_sim_options"]

SIM_CANCEL_NOTE: Final = (
    f"The built-in simulator keeps this run's tasks in {SIM_MEMORY_NAME}, and its clock ran on while "
    "no process did, as DashScope's does: tasks queued when the run stopped may have started since."
)
SIM_FORGOT_NOTE: Final = (
    f"The built-in simulator has no memory of this run's tasks ({SIM_MEMORY_NAME} is missing or "
    "unreadable): nothing was cancelled. `runner run` reports them expired; --retry-failed "
    "generates them again."
)


def remember_sim_options(store: Store, endpoint: Endpoint, sim: SimOptions) -> None:
    """Record the settings of the run's embedded simulator (on the `sim` endpoint only)."""
    if endpoint.is_simulator:
        settings = {"profile": sim.profile, "time_scale": sim.time_scale, "seed": sim.seed}
        store.set_meta(SIM_SETTINGS_META, json.dumps(settings))


def recorded_sim_options(store: Store, folder: Path) -> SimOptions:
    """The embedded simulator the run in `folder` used, with its memory; ConfigError if the
    journal does not say (a folder run before runner recorded it). The caller holds the
    folder's lock, so no run's simulator is using the memory meanwhile."""
    text = store.get_meta(SIM_SETTINGS_META)
    if not text:
        msg = (
            f"{folder} does not record the built-in simulator's settings (it was run by an earlier "
            "version of runner), so its tasks cannot be looked up to cancel them. `runner run` "
            "collects them as they finish."
        )
        raise ConfigError(msg)
    settings = json.loads(text)
    seed = settings["seed"]
    return SimOptions(
        profile=str(settings["profile"]),
        time_scale=float(settings["time_scale"]),
        seed=None if seed is None else int(seed),
        memory=folder / SIM_MEMORY_NAME,
    )
