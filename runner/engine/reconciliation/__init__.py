"""Did an ambiguous create reach the server? A listed task is adopted on evidence only.

evidence   the claims, the candidates, and the verdicts the evidence allows (pure)
passes     when a run looks, what it reads from the server, what it does with each verdict
"""

from __future__ import annotations

from runner.engine.reconciliation.passes import ReconcileListener, Reconciler

__all__ = ["ReconcileListener", "Reconciler"]
