"""The portfolio as plain data: computed in services/portfolio.py, worded in
messages/roadmap_views.py and served by api/projects.py, and below all three."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from launchops.domain.roadmap import Pass

__all__ = ["PRODUCTION_GOAL", "OpenGate", "ProjectRow", "ScaleView", "StoppedProject"]

PRODUCTION_GOAL = 2  # the guide: at least two new use cases reaching Production per quarter


@dataclass(frozen=True)
class OpenGate:
    id: int
    to_stage: str
    requested_at: datetime


@dataclass(frozen=True)
class ProjectRow:
    id: str
    name: str
    stage: str
    owner: str
    owner_name: str
    sponsor: str | None
    sponsor_name: str | None
    team: str | None
    entered_at: datetime
    days_in_stage: float
    timebox: timedelta | None  # from entering the stage to its (extended) deadline
    limit: timedelta | None
    due_at: datetime | None
    limit_at: datetime | None
    clock_version: int
    open_gate: OpenGate | None
    open_incidents: int
    flags: tuple[str, ...]
    stopped: bool


@dataclass(frozen=True)
class StoppedProject:
    id: str
    name: str
    stage: str
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True)
class ScaleView:
    quarter: str
    reached_production: tuple[Pass, ...]
    goal: int = PRODUCTION_GOAL
    median_days: dict[str, float] = field(default_factory=dict)
    stopped: tuple[StoppedProject, ...] = ()
