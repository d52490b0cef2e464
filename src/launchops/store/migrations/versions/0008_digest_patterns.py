"""digest follow-up: each week's failure patterns with their assignee and review

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from launchops.store.types import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "digestpattern",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", _text(64), nullable=False),
        sa.Column("iso_week", _text(10), nullable=False),
        sa.Column("pattern_key", _text(32), nullable=False),
        sa.Column("component_id", _text(64), nullable=False),
        sa.Column("example", _text(500), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("assignee_kind", _text(8), nullable=True),
        sa.Column("assignee_id", _text(64), nullable=True),
        sa.Column("assigned_by", _text(64), nullable=True),
        sa.Column("assigned_at", UTCDateTime(), nullable=True),
        sa.Column("reviewed_by", _text(64), nullable=True),
        sa.Column("reviewed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "iso_week", "pattern_key", name="uq_digestpattern_week_key"),
    )


def downgrade() -> None:
    op.drop_table("digestpattern")
