"""Layer 0: what every layer shares, and nothing else of runner.

tasks       value types: TaskSpec (a validated request with its content key), TaskRecord
            (what the journal knows), TaskState, MediaRef, RunSummary
errors      the exception tree; messages are sentences for a person
lifecycle   the transition table: (state, event) -> state, nothing else
families    each kind of request: its body's shape, inputs, parameters and billing
catalog     every model: its family, numbers, prices, quotas and regions
endpoints   the regions, their shared and workspace domains, the simulator
costs       what a task costs: estimated, reserved while it runs, billed from its usage
efficiency  the makespan lower bound and efficiency (docs/performance.md)
servertime  DashScope's zone-less time stamps as UTC instants
"""

from __future__ import annotations

from runner.core.catalog import (
    MODELS,
    NEGATIVE_PROMPT_MAX,
    SEED_MAX,
    ModelInfo,
    estimate_generation_s,
    get_model,
    price_per_second,
)
from runner.core.costs import actual_cost, billed_seconds, reserved_cost, task_cost
from runner.core.efficiency import efficiency, makespan_lower_bound, server_seconds
from runner.core.endpoints import ENDPOINTS, REGIONS, SIM_API_KEY, Endpoint, resolve_endpoint
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
from runner.core.families import FAMILIES, MEDIA_ROLES, RATIOS, SIZES, Family, MediaRule
from runner.core.lifecycle import Event, advance, can_advance
from runner.core.servertime import SERVER_ZONE, server_instant, utc_text
from runner.core.tasks import (
    TERMINAL_STATES,
    MediaItem,
    MediaRef,
    ParamValue,
    RunSummary,
    TaskRecord,
    TaskSpec,
    TaskState,
    canonical_request,
    task_key,
    tier_of_size,
)

__all__ = [
    "ENDPOINTS",
    "FAMILIES",
    "MEDIA_ROLES",
    "MODELS",
    "NEGATIVE_PROMPT_MAX",
    "RATIOS",
    "REGIONS",
    "SEED_MAX",
    "SERVER_ZONE",
    "SIM_API_KEY",
    "SIZES",
    "TERMINAL_STATES",
    "AccountError",
    "AmbiguousSubmitError",
    "ApiError",
    "ConfigError",
    "DownloadError",
    "Endpoint",
    "Event",
    "Family",
    "InputFileError",
    "InvalidTransitionError",
    "JournalDamagedError",
    "JournalFullError",
    "ListRefusedError",
    "ManifestError",
    "MediaItem",
    "MediaRef",
    "MediaRule",
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
    "billed_seconds",
    "can_advance",
    "canonical_request",
    "efficiency",
    "estimate_generation_s",
    "get_model",
    "makespan_lower_bound",
    "price_per_second",
    "reserved_cost",
    "resolve_endpoint",
    "server_instant",
    "server_seconds",
    "task_cost",
    "task_key",
    "tier_of_size",
    "utc_text",
]
