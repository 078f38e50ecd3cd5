"""Layer 4: one run of a manifest, start to end, as a library the CLI and Python code share.

api           runner.plan, runner.run, runner.run_async: the Python API
options       the options of a run, named alike in Python and on the command line
sources       a manifest from a file, a dict, a DataFrame or a list of rows
frames        the API's DataFrames: rows in, tables out (pandas, imported when needed)
preparation   a run made ready: manifest, folder, accounts, limits, who hears of its end
execution     one run, start to end: journal, folder claim, engine, report, summary
result        RunResult and the run's summary as data (--json, summary.json, webhooks)
announce      a webhook and a command told that the run ended
plans         what a run would do, cost and take (runner plan, runner.plan)
wiring        the key, the HTTP client, the embedded simulator
links         the accounts a run drives, and a connection to each
ownership     a run folder belongs to one endpoint
embedded_sim  the built-in simulator's settings, kept in the journal for `runner cancel`
progress      the live view: a rich display, log lines, or a callback
exitcodes     what a run's outcome means as an exit status
"""

from __future__ import annotations

from runner.session.api import Progress, plan, run, run_async
from runner.session.embedded_sim import (
    SIM_CANCEL_NOTE,
    SIM_FORGOT_NOTE,
    recorded_sim_options,
    remember_sim_options,
)
from runner.session.execution import StopSwitch, Watch, execute
from runner.session.exitcodes import (
    EXIT_ACCOUNT,
    EXIT_FAILED_TASKS,
    EXIT_OK,
    EXIT_STOPPED,
    EXIT_USAGE,
    exit_code,
)
from runner.session.links import AccountPlan, account_plans, open_links
from runner.session.options import ManifestOptions, NotifyOn, RunOptions
from runner.session.ownership import check_owner, check_sidecars, claim_folder, foreign_owner
from runner.session.plans import RunPlan, plan_run
from runner.session.preparation import PreparedRun, prepare_run
from runner.session.progress import ProgressCallback, show_progress
from runner.session.result import SUMMARY_NAME, AccountRefusedError, Failure, RunPaths, RunResult
from runner.session.sources import ManifestInput, load_source
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
    "SUMMARY_NAME",
    "AccountPlan",
    "AccountRefusedError",
    "Connection",
    "Failure",
    "ManifestInput",
    "ManifestOptions",
    "NotifyOn",
    "PreparedRun",
    "Progress",
    "ProgressCallback",
    "RunOptions",
    "RunPaths",
    "RunPlan",
    "RunResult",
    "SimOptions",
    "StopSwitch",
    "Watch",
    "account_plans",
    "check_owner",
    "check_sidecars",
    "claim_folder",
    "execute",
    "exit_code",
    "foreign_owner",
    "load_source",
    "open_connection",
    "open_links",
    "plan",
    "plan_run",
    "prepare_run",
    "recorded_sim_options",
    "remember_sim_options",
    "resolve_api_key",
    "run",
    "run_async",
    "show_progress",
    "simulator_time_scale",
]
