"""Layer 2: what a manifest would do against a run folder, before anything is sent.

plan        new / done / changed / failed / in flight; estimated cost and wall time
quotas      each model's quota: the catalogue's, or the run's limits in its place
urlcheck    `runner plan --check-urls`: does each remote input answer with media?
"""

from __future__ import annotations

from runner.planning.plan import Disposition, Plan, PlannedTask, build_plan, disposition_counts
from runner.planning.quotas import Quota, catalogue_quota, model_quotas
from runner.planning.urlcheck import UrlCheck, check_urls, remote_urls

__all__ = [
    "Disposition",
    "Plan",
    "PlannedTask",
    "Quota",
    "UrlCheck",
    "build_plan",
    "catalogue_quota",
    "check_urls",
    "disposition_counts",
    "model_quotas",
    "remote_urls",
]
