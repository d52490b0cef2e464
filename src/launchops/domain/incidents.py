"""Incident rules: severities, the status machine and what a valid title is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from launchops.domain.errors import BadCommand, InvalidTransition
from launchops.domain.ledger import DeploymentLine

Level = Literal["p0", "p1", "p2", "p3"]
LEVELS: tuple[Level, ...] = ("p0", "p1", "p2", "p3")
Status = Literal["open", "acknowledged", "resolved"]
STATUSES: tuple[Status, ...] = ("open", "acknowledged", "resolved")
MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 3000


def parse_level(text: str) -> Level:
    level = text.strip().lower()
    for known in LEVELS:
        if level == known:
            return known
    raise BadCommand("error.unknown_severity", level=text[:20])


def check_title(title: str) -> str:
    """Titles are refused, never silently truncated: a cut title can change the meaning."""
    title = " ".join(title.split())
    if not title:
        raise BadCommand("usage.incident")
    if len(title) > MAX_TITLE_CHARS:
        raise BadCommand("error.title_too_long", limit=MAX_TITLE_CHARS, length=len(title))
    return title


def next_status(current: str, action: Literal["acknowledge", "resolve"]) -> Status:
    if current == "resolved":
        raise InvalidTransition("error.incident_already_resolved")
    if action == "acknowledge":
        if current == "acknowledged":
            raise InvalidTransition("error.incident_already_acknowledged")
        return "acknowledged"
    return "resolved"


@dataclass(frozen=True)
class Unreached:
    """Someone paged whose page the platform refused for good, and why (domain/page_failures)."""

    name: str
    reason: str
    code: str = ""


@dataclass(frozen=True)
class IncidentView:
    """An incident as people see it: names, not ids; what cards and the API are built from."""

    id: int
    severity: str
    status: str
    title: str
    description: str | None
    meaning: str
    component_id: str | None
    component_name: str | None
    team_id: str | None
    team_name: str | None
    source: str
    declared_by: str
    declared_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    ack_deadline: datetime | None
    runbook: str | None
    responders: tuple[str, ...]  # people paged whose pages were not refused
    postmortem_owner: str | None
    # confidential/pii component: its runbook is shown to responders only
    confidential: bool = False
    unreached: tuple[Unreached, ...] = ()  # people whose pages were refused for good
    # the component's latest deployments, newest first (the card's Roll back button)
    deployments: tuple[DeploymentLine, ...] = ()
    # `incident status`: the changes in the hour before the declaration; None when not read
    changes_before: tuple[DeploymentLine, ...] | None = None

    @property
    def reference(self) -> str:
        return f"INC-{self.id}"
