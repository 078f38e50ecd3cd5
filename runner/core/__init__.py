"""Layer 0: what every layer shares, and nothing else of runner.

tasks       value types: TaskSpec (a validated request with its content key), TaskRecord
            (what the journal knows), TaskState, MediaRef, RunSummary
errors      the exception tree; messages are sentences for a person
lifecycle   the transition table: (state, event) -> state, nothing else
catalog     every model's rules, quotas and prices; the endpoints and their regions
costs       what a task costs: estimated, reserved while it runs, billed from its usage
efficiency  the makespan lower bound and efficiency (docs/performance.md)
"""

from __future__ import annotations

from runner.core.catalog import (
    ENDPOINTS,
    MODELS,
    NEGATIVE_PROMPT_MAX,
    SEED_MAX,
    SIM_API_KEY,
    Endpoint,
    ModelInfo,
    estimate_generation_s,
    get_model,
    price_per_second,
    resolve_endpoint,
)
from runner.core.costs import actual_cost, reserved_cost, task_cost
from runner.core.efficiency import efficiency, makespan_lower_bound, server_seconds
from runner.core.errors import (
    AccountError,
    AmbiguousSubmitError,
    ApiError,
    ConfigError,
    DownloadError,
    InputFileError,
    InvalidTransitionError,
    JournalDamagedError,
    JournalFullError,
    ListRefusedError,
    ManifestError,
    Problem,
    RunnerError,
    StoreError,
    TaskRejectedError,
    TransientApiError,
)
from runner.core.lifecycle import Event, advance, can_advance
from runner.core.tasks import (
    TERMINAL_STATES,
    MediaRef,
    ParamValue,
    RunSummary,
    TaskRecord,
    TaskSpec,
    TaskState,
    canonical_request,
    task_key,
)

__all__ = [
    "ENDPOINTS",
    "MODELS",
    "NEGATIVE_PROMPT_MAX",
    "SEED_MAX",
    "SIM_API_KEY",
    "TERMINAL_STATES",
    "AccountError",
    "AmbiguousSubmitError",
    "ApiError",
    "ConfigError",
    "DownloadError",
    "Endpoint",
    "Event",
    "InputFileError",
    "InvalidTransitionError",
    "JournalDamagedError",
    "JournalFullError",
    "ListRefusedError",
    "ManifestError",
    "MediaRef",
    "ModelInfo",
    "ParamValue",
    "Problem",
    "RunSummary",
    "RunnerError",
    "StoreError",
    "TaskRecord",
    "TaskRejectedError",
    "TaskSpec",
    "TaskState",
    "TransientApiError",
    "actual_cost",
    "advance",
    "can_advance",
    "canonical_request",
    "efficiency",
    "estimate_generation_s",
    "get_model",
    "makespan_lower_bound",
    "price_per_second",
    "reserved_cost",
    "resolve_endpoint",
    "server_seconds",
    "task_cost",
    "task_key",
]
