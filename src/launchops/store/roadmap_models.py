"""Tables of the roadmap rhythm: nudge claims, extensions, stops and monthly report claims.

A stage's clock is `ProjectStage.entered_at` plus the policy's timebox and limit, moved by
extensions; nothing here stores a deadline, so a policy edit moves every clock at once.

Exactly once (DESIGN.md §2) comes from unique rows: every replica, a restart's catch-up and
a double fire all try to insert the same claim, and only the one that wins writes the outbox
rows, in the same transaction. A clock's *version* (1 + the extensions of the stage) is part
of each key, so a moved clock nudges again at its new deadline, and two extensions racing
from one button cannot both land.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from launchops.store import models as _catalog  # noqa: F401  (the tables these point at)
from launchops.store.types import UTCDateTime, utcnow

__all__ = ["MonthlyReportClaim", "ProjectStop", "RoadmapNudge", "StageExtension"]


def _when(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kwargs)


class RoadmapNudge(SQLModel, table=True):
    """One nudge sent: `timebox` (the owner) or `limit` (the sponsor and the owner)."""

    __table_args__ = (
        UniqueConstraint(
            "project_id", "stage", "stage_entered", "kind", "version", name="uq_roadmapnudge_once"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(foreign_key="project.id", max_length=64, index=True)
    stage: str = Field(max_length=16)
    stage_entered: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=16)  # timebox | limit
    version: int
    due_at: datetime = Field(sa_type=UTCDateTime)
    claimed_at: datetime = _when()


class StageExtension(SQLModel, table=True):
    """A moved deadline: `version` is the clock version it created (2 for the first)."""

    __table_args__ = (
        UniqueConstraint(
            "project_id", "stage", "stage_entered", "version", name="uq_stageextension_version"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(foreign_key="project.id", max_length=64, index=True)
    stage: str = Field(max_length=16)
    stage_entered: datetime = Field(sa_type=UTCDateTime)
    version: int
    due_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(sa_type=Text)
    by: str = Field(max_length=64)  # a person id
    approved_by_sponsor: bool = False
    at: datetime = _when()


class ProjectStop(SQLModel, table=True):
    """A stopped project: kept (never deleted) so the portfolio can say what stopped and why."""

    project_id: str = Field(primary_key=True, foreign_key="project.id", max_length=64)
    stage: str = Field(max_length=16)
    reason: str = Field(sa_type=Text)
    by: str = Field(max_length=64)
    at: datetime = _when()


class MonthlyReportClaim(SQLModel, table=True):
    """One monthly operations report per project and month; `round` > 0 is a resend."""

    __table_args__ = (
        UniqueConstraint("project_id", "month", "round", name="uq_monthlyreport_once"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(foreign_key="project.id", max_length=64)
    month: str = Field(max_length=7)  # 2026-11
    round: int = 0
    claimed_at: datetime = _when()
    claimed_by: str = Field(default="scheduler", max_length=64)
