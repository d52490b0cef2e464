"""weekly digest claims: one row per (channel, ISO week, round)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from launchops.store.types import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "digestclaim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", _text(320), nullable=False),
        sa.Column("iso_week", _text(10), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("team_id", _text(64), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", _text(64), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "iso_week", "round", name="uq_digestclaim_channel_week"),
    )
    with op.batch_alter_table("digestclaim", schema=None) as batch_op:
        batch_op.create_index("ix_digestclaim_team_week", ["team_id", "iso_week"])


def downgrade() -> None:
    with op.batch_alter_table("digestclaim", schema=None) as batch_op:
        batch_op.drop_index("ix_digestclaim_team_week")
    op.drop_table("digestclaim")
