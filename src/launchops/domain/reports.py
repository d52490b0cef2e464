"""What a monthly operations report says, as plain data: the store's figures are gathered in
services/monthly_report.py and worded in messages/roadmap_views.py, and this sits below both."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from launchops.domain.ledger import DeploymentLine

__all__ = ["MonthlyReport"]


@dataclass(frozen=True)
class MonthlyReport:
    project_id: str
    project_name: str
    month: str
    success_rate: float | None
    success_target: float | None
    latency_p95_ms: float | None
    latency_target_ms: float | None
    cost: float | None
    budget: float | None
    incidents: dict[str, int] = field(default_factory=dict)
    mean_ack: timedelta | None = None
    mean_resolve: timedelta | None = None
    # per severity: (mean time to acknowledge, mean time to resolve), None where none was
    times: dict[str, tuple[timedelta | None, timedelta | None]] = field(default_factory=dict)
    failures: int = 0
    failures_before: int = 0
    gates_decided: int = 0
    # the month's deployments and rollbacks of the project's components (the change ledger)
    deployments: tuple[DeploymentLine, ...] = ()
