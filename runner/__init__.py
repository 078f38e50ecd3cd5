"""runner: a resumable, quota-aware batch runner for DashScope video generation tasks.

The Python API (README, "Python API"):

    import runner
    plan = runner.plan("manifests/demo.yaml")           # tasks, cost, time; sends nothing
    result = runner.run("manifests/demo.yaml")          # blocks; resumable; never exits
    result.table                                        # the status table, a DataFrame
    result = await runner.run_async("manifests/demo.yaml")   # in a running event loop

Its names are loaded on first use, so `import runner` stays light (the simulator and the
command line import it too).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

__version__ = "0.1.0"

if TYPE_CHECKING:
    from runner.core import AccountError, ConfigError, ManifestError, RunnerError, StoreError
    from runner.engine import Snapshot
    from runner.session import AccountRefusedError, RunPlan, RunResult, plan, run, run_async

#: public name → the package that holds it
_LAZY: Final = {
    "plan": "runner.session",
    "run": "runner.session",
    "run_async": "runner.session",
    "RunPlan": "runner.session",
    "RunResult": "runner.session",
    "AccountRefusedError": "runner.session",
    "Snapshot": "runner.engine",
    "RunnerError": "runner.core",
    "ManifestError": "runner.core",
    "ConfigError": "runner.core",
    "StoreError": "runner.core",
    "AccountError": "runner.core",
}

__all__ = [
    "AccountError",
    "AccountRefusedError",
    "ConfigError",
    "ManifestError",
    "RunPlan",
    "RunResult",
    "RunnerError",
    "Snapshot",
    "StoreError",
    "__version__",
    "plan",
    "run",
    "run_async",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'runner' has no attribute {name!r}")
