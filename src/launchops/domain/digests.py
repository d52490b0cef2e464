"""What a weekly digest says, as plain data: gathered from the store in
services/digest_data.py, worded in messages/digest_views.py, and below both."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from launchops.domain.ledger import DeploymentLine

__all__ = ["ComponentRate", "DigestData", "IncidentFigures", "PastPattern", "Pattern"]

_NUMBERS = re.compile(r"\d+")


@dataclass(frozen=True)
class Pattern:
    count: int
    example: str  # a masked summary (the group's most frequent text)
    component: str = ""  # the component id most of the example's cases came from

    @property
    def key(self) -> str:
        """Stable across weeks: the component and the example with digits, case and spacing
        normalised, hashed (the digest follow-up finds last week's row by it)."""
        text = " ".join(_NUMBERS.sub("#", self.example.lower()).split())
        return hashlib.sha256(f"{self.component}|{text}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ComponentRate:
    component: str  # the name
    cases: int
    requests: int | None  # from SLI samples; None when no sample covers the week
    allowed: float  # the agreed allowed failure rate: 1 − the success-rate objective
    success_rate: float | None  # SLI successes / requests over the week
    objective: float
    open_alerts: int

    @property
    def rate(self) -> float | None:
        return self.cases / self.requests if self.requests else None


@dataclass(frozen=True)
class IncidentFigures:
    severity: str
    declared: int
    mean_ack: timedelta | None
    mean_resolve: timedelta | None


@dataclass(frozen=True)
class PastPattern:
    """An earlier week's pattern as the follow-up section lists it (services/digest_followup)."""

    iso_week: str
    example: str
    assignee: str | None  # the owner's name
    reviewed_by: str | None  # the reviewer's name


@dataclass(frozen=True)
class DigestData:
    team_id: str
    team_name: str
    start: datetime
    end: datetime
    # (component name, kind) → (this week, last week)
    cases: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    rates: list[ComponentRate] = field(default_factory=list)
    patterns: list[Pattern] = field(default_factory=list)
    incidents: list[IncidentFigures] = field(default_factory=list)
    still_open: list[tuple[int, str]] = field(default_factory=list)  # (id, severity)
    gates_decided: list[tuple[str, str, str]] = field(default_factory=list)  # project, stage, how
    gates_pending: list[tuple[str, str]] = field(default_factory=list)  # project, stage
    trend: list[int] = field(default_factory=list)  # cases per week, oldest first
    # the week's deployments and rollbacks of the team's components, oldest first
    deployments: list[DeploymentLine] = field(default_factory=list)
    # Filled by the digest service when a round is sent: each pattern's follow-up row id (the
    # buttons' value) and what became of earlier weeks' patterns.
    pattern_ids: list[int] = field(default_factory=list)
    earlier: list[PastPattern] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(now for now, _ in self.cases.values())

    @property
    def total_before(self) -> int:
        return sum(before for _, before in self.cases.values())

    @property
    def quiet(self) -> bool:
        """Nothing to report: no case, no incident, no open alert, no gate, no deployment."""
        return not (
            self.total
            or self.incidents
            or self.still_open
            or any(r.open_alerts for r in self.rates)
            or self.gates_decided
            or self.gates_pending
            or self.deployments
        )
