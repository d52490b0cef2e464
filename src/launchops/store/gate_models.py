"""Tables of the stage gates: where each project stands, its gate requests and their decisions.

A project's current stage lives here, not in the catalog's `project` row: config gives the
starting stage once, after which only a passed gate moves it, so a config sync can never undo
a launch decision. Every other row is history and is never deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from launchops.store import models as _catalog  # noqa: F401  (the tables these point at)
from launchops.store.types import UTCDateTime, utcnow

__all__ = ["EvidenceChange", "GateAttestation", "GateDecision", "GateRequest", "ProjectStage"]

_OPEN_REQUEST = text("status = 'open'")


def _when(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kwargs)


class ProjectStage(SQLModel, table=True):
    """Where a project stands now, and since when (the roadmap's clock starts there)."""

    project_id: str = Field(primary_key=True, foreign_key="project.id", max_length=64)
    stage: str = Field(max_length=16)
    entered_at: datetime = _when()
    changed_by: str = Field(default="config", max_length=200)  # `config`, or the gate's id


class GateRequest(SQLModel, table=True):
    """One go/no-go decision for one step. `requirements` and the evidence are snapshots taken
    when it was requested, so later config edits do not move its goalposts."""

    __table_args__ = (
        # At most one open request per project, enforced by the database itself.
        Index(
            "uq_gate_open_per_project",
            "project_id",
            unique=True,
            sqlite_where=_OPEN_REQUEST,
            postgresql_where=_OPEN_REQUEST,
        ),
        Index("ix_gate_due", "status", "next_reminder_at"),
        UniqueConstraint("request_key", name="uq_gate_request_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(foreign_key="project.id", max_length=64, index=True)
    from_stage: str = Field(max_length=16)
    to_stage: str = Field(max_length=16)
    status: str = Field(default="open", max_length=16)  # open | passed | rejected | expired
    requested_by: str = Field(max_length=64)  # a person id
    requested_at: datetime = _when()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    next_reminder_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminders_sent: int = 0
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    requirements: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    evidence: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    evidence_version: int = 1
    evidence_fingerprint: str = Field(max_length=64)
    request_key: str | None = Field(default=None, max_length=255)  # the platform's request id


class GateDecision(SQLModel, table=True):
    """One person's approval or rejection, on one version of the evidence. The unique key makes
    a double click, a retried request or a second replica record it once."""

    __table_args__ = (
        UniqueConstraint(
            "request_id", "person_id", "evidence_version", name="uq_gate_decision_once"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="gaterequest.id", index=True)
    person_id: str = Field(max_length=64)
    verdict: str = Field(max_length=8)  # approve | reject
    reason: str | None = Field(default=None, max_length=2000)
    evidence_version: int
    at: datetime = _when()


class GateAttestation(SQLModel, table=True):
    """What a requester vouches for that data cannot show (a link, a number, a yes)."""

    request_id: int = Field(primary_key=True, foreign_key="gaterequest.id")
    key: str = Field(primary_key=True, max_length=64)
    ok: bool
    value: str | None = Field(default=None, max_length=500)
    by: str = Field(max_length=64)
    at: datetime = _when()


class EvidenceChange(SQLModel, table=True):
    """Why a request's evidence version went up: shown on the summary card and in status."""

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="gaterequest.id", index=True)
    version: int
    reason: str = Field(max_length=500)
    at: datetime = _when()
