"""The weekly digest's claims: one row per channel, ISO week and round.

The unique `(channel, iso_week, round)` constraint is the "exactly once per channel and ISO
week" rule (DESIGN.md §2): every replica, a double fire and a catch-up after downtime all try
to insert round 0, and the one that wins writes the digest's outbox rows in the same
transaction. `launchops digest send --force` sends again under the next round.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from launchops.store.types import UTCDateTime, utcnow

__all__ = ["DigestClaim", "DigestPattern"]


class DigestClaim(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("channel", "iso_week", "round", name="uq_digestclaim_channel_week"),
        Index("ix_digestclaim_team_week", "team_id", "iso_week"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=320)  # `<platform>:<channel id>`
    iso_week: str = Field(max_length=10)  # `2026-W49`
    round: int = 0  # 0 = the scheduled (or catch-up, or --now) send; n = the n-th --force
    team_id: str = Field(max_length=64)
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_by: str = Field(default="scheduler", max_length=64)  # scheduler | cli
    outbox_id: int | None = None  # the top-level message's row


class DigestPattern(SQLModel, table=True):
    """One failure pattern of one team's digest week, and its follow-up (issue 10 item 5).

    `pattern_key` is stable across weeks (the component and the normalised example, hashed):
    next week's digest finds last week's row of the same pattern. `id` is what the digest's
    Assign and Mark reviewed buttons carry. Assignment and review are compare-and-set
    updates, so a retried click records once.
    """

    __table_args__ = (
        UniqueConstraint("team_id", "iso_week", "pattern_key", name="uq_digestpattern_week_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=64)
    iso_week: str = Field(max_length=10)
    pattern_key: str = Field(max_length=32)
    component_id: str = Field(default="", max_length=64)
    example: str = Field(max_length=500)  # masked, as shown in the digest
    count: int = 0
    rank: int = 0  # 1, 2, 3 as numbered in the digest
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    assignee_kind: str | None = Field(default=None, max_length=8)  # team | person
    assignee_id: str | None = Field(default=None, max_length=64)
    assigned_by: str | None = Field(default=None, max_length=64)
    assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by: str | None = Field(default=None, max_length=64)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
