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

__all__ = ["DigestClaim"]


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
