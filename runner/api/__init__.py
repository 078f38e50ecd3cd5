"""Layer 1: the DashScope HTTP API, and the only place httpx is used for it.

client      one method per endpoint (create, query, list, cancel, upload, video download),
            every failure classified (docs/dashscope-api.md)
wire        the request bodies and what the answers hold, as plain values
refusals    how a refused request reads: which error class says what to do about it
oss         the temporary-storage upload wire (credential, form POST, oss:// URL)
"""

from __future__ import annotations

from runner.api.client import DashScopeClient
from runner.api.oss import POLICY_EXPIRED, UploadPolicy
from runner.api.wire import ListedTask, ResolvedInputs, TaskStatus, build_create_body

__all__ = [
    "POLICY_EXPIRED",
    "DashScopeClient",
    "ListedTask",
    "ResolvedInputs",
    "TaskStatus",
    "UploadPolicy",
    "build_create_body",
]
