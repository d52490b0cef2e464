"""The tables. Enumerations are plain strings (no native enums) so migrations stay portable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from launchops.store.types import UTCDateTime, utcnow


def _when(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kwargs)


class Person(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    slack_id: str | None = Field(default=None, max_length=64, index=True, unique=True)
    teams_id: str | None = Field(default=None, max_length=200, index=True, unique=True)
    email: str | None = Field(default=None, max_length=320)
    timezone: str = Field(default="UTC", max_length=64)
    locale: str | None = Field(default=None, max_length=8)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # left the config


class Team(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    slack_channel: str | None = Field(default=None, max_length=64, index=True)
    teams_channel: str | None = Field(default=None, max_length=300, index=True)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # left the config


class TeamMember(SQLModel, table=True):
    """Membership; `oncall_rank` orders the on-call list (0 is paged first), None = not on call."""

    team_id: str = Field(primary_key=True, foreign_key="team.id", max_length=64)
    person_id: str = Field(primary_key=True, foreign_key="person.id", max_length=64, index=True)
    oncall_rank: int | None = None


class Component(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    area: str = Field(max_length=16)
    classification: str = Field(default="internal", max_length=16)
    runbook: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=2000)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # left the config


class ComponentKey(SQLModel, table=True):
    """Every name a component answers to (id, name, aliases), in `normalize_key` form."""

    key: str = Field(primary_key=True, max_length=200)
    component_id: str = Field(foreign_key="component.id", max_length=64, index=True)
    text: str = Field(max_length=200)


class RaciAssignment(SQLModel, table=True):
    __table_args__ = (Index("ix_raci_party", "party_kind", "party_id"),)

    id: int | None = Field(default=None, primary_key=True)
    component_id: str = Field(foreign_key="component.id", max_length=64, index=True)
    role: str = Field(max_length=1)  # R, A, C or I
    party_kind: str = Field(max_length=8)  # team or person
    party_id: str = Field(max_length=64)
    position: int = 0


class Project(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    stage: str = Field(max_length=16)
    owner_id: str = Field(foreign_key="person.id", max_length=64)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # left the config
    sponsor_id: str | None = Field(default=None, max_length=64)  # a person id (config-checked)


class ProjectComponent(SQLModel, table=True):
    project_id: str = Field(primary_key=True, foreign_key="project.id", max_length=64)
    component_id: str = Field(primary_key=True, foreign_key="component.id", max_length=64)


class ConfigRevision(SQLModel, table=True):
    """Each accepted config; the newest is in force and its policy is what rules apply."""

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, index=True)
    source: str = Field(max_length=500)
    loaded_at: datetime = _when()
    policy: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AuditEntry(SQLModel, table=True):
    """Append-only: rows are inserted and never updated or deleted."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=200, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class InboundReceipt(SQLModel, table=True):
    """One row per inbound platform request we acted on: a retry finds its key and stops."""

    key: str = Field(primary_key=True, max_length=255)
    seen_at: datetime = _when(index=True)


class ConversationRef(SQLModel, table=True):
    """Where the bot can speak proactively (Teams conversation references, Slack DMs)."""

    platform: str = Field(primary_key=True, max_length=16)
    key: str = Field(primary_key=True, max_length=300)
    reference: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _when()


class OutboxMessage(SQLModel, table=True):
    """An outgoing chat message. Written with the state change it reports, then delivered."""

    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_claim_order", "status", "priority", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    kind: str = Field(max_length=16)  # post | ephemeral | update | respond
    destination: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    dedupe_key: str | None = Field(default=None, max_length=255)
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | dead
    attempts: int = 0
    next_attempt_at: datetime = _when()
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _when()
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=2000)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    depends_on: int | None = None  # an earlier outbox id whose `result` this row needs
    locale: str = Field(default="en", max_length=8)
    ordering_key: str | None = Field(default=None, max_length=255, index=True)
    # Claimed highest first (delivery/outbox.py names the levels): a page never queues
    # behind a burst of digests. Rows written before it existed count as PRIORITY_NORMAL.
    priority: int = Field(default=10, sa_column_kwargs={"server_default": text("10")})


_OPEN_INCIDENT = text("status != 'resolved'")


class Incident(SQLModel, table=True):
    """One incident. `policy` is the severity policy as it was at declaration: escalations
    follow the rules the responders were paged under, even if config changes mid-incident."""

    __table_args__ = (
        Index("ix_incident_due", "status", "next_escalation_at"),
        # One open incident per alert fingerprint, enforced by the database itself.
        Index(
            "uq_incident_open_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=_OPEN_INCIDENT,
            postgresql_where=_OPEN_INCIDENT,
        ),
        UniqueConstraint("declare_key", name="uq_incident_declare_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    severity: str = Field(max_length=2, index=True)
    status: str = Field(default="open", max_length=16, index=True)
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=3000)
    component_id: str | None = Field(default=None, max_length=64, index=True)
    team_id: str | None = Field(default=None, max_length=64)  # the Responsible team
    source: str = Field(default="chat", max_length=16)  # chat | alertmanager | api
    declared_by: str = Field(max_length=200)
    declared_at: datetime = _when(index=True)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=200)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: str | None = Field(default=None, max_length=200)
    postmortem_owner: str | None = Field(default=None, max_length=64)
    policy: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    escalation_step: int = 0  # how many escalate_to steps have been paged
    next_escalation_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    declare_key: str | None = Field(default=None, max_length=255)
    fingerprint: str | None = Field(default=None, max_length=255)
    previous_incident_id: int | None = None
    origin: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class IncidentResponder(SQLModel, table=True):
    """Everyone paged for an incident, and why: they may acknowledge and resolve it."""

    incident_id: int = Field(primary_key=True, foreign_key="incident.id")
    person_id: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=200)
    step: int = 0  # 0 = the first page, n = the n-th escalation
    paged_at: datetime = _when()
    # Why the platform refused this person's page for good (a `page_error` reason, e.g.
    # `account_inactive`); None while every page to them may still arrive.
    page_error: str | None = Field(default=None, max_length=64)


class IncidentMessage(SQLModel, table=True):
    """The incident card posted in a channel: later updates edit it and reply in its thread."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    platform: str = Field(max_length=16)
    outbox_id: int
    channel: str = Field(max_length=300)  # a channel id, or the person id for a page
    person_id: str | None = Field(default=None, max_length=64)  # set for a direct page
    locale: str = Field(default="en", max_length=8)
    step: int = 0  # for a page: 0 = the declaration's, n = the n-th escalation's
