"""Layer 4: one run of a manifest, start to end, as a library the CLI and Python code share.

wiring        the key, the HTTP client, the embedded simulator
links         the accounts a run drives, and a connection to each
ownership     a run folder belongs to one endpoint
embedded_sim  the built-in simulator's settings, kept in the journal for `runner cancel`
progress      the live view: a rich display, or a log line every ~10 s
exitcodes     what a run's outcome means as an exit status
"""

from __future__ import annotations

from runner.session.embedded_sim import (
    SIM_CANCEL_NOTE,
    SIM_FORGOT_NOTE,
    recorded_sim_options,
    remember_sim_options,
)
from runner.session.exitcodes import EXIT_ACCOUNT, EXIT_FAILED_TASKS, EXIT_OK, EXIT_STOPPED, EXIT_USAGE
from runner.session.links import AccountPlan, account_plans, open_links
from runner.session.ownership import check_owner, check_sidecars, claim_folder, foreign_owner
from runner.session.progress import show_progress
from runner.session.wiring import (
    BASE_URL_VARIABLE,
    DEFAULT_SIM_TIME_SCALE,
    KEY_FILE_VARIABLE,
    Connection,
    SimOptions,
    open_connection,
    resolve_api_key,
    simulator_time_scale,
)

__all__ = [
    "BASE_URL_VARIABLE",
    "DEFAULT_SIM_TIME_SCALE",
    "EXIT_ACCOUNT",
    "EXIT_FAILED_TASKS",
    "EXIT_OK",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "KEY_FILE_VARIABLE",
    "SIM_CANCEL_NOTE",
    "SIM_FORGOT_NOTE",
    "AccountPlan",
    "Connection",
    "SimOptions",
    "account_plans",
    "check_owner",
    "check_sidecars",
    "claim_folder",
    "foreign_owner",
    "open_connection",
    "open_links",
    "recorded_sim_options",
    "remember_sim_options",
    "resolve_api_key",
    "show_progress",
    "simulator_time_scale",
]
