"""pages refused for good: the reason on the responder, the escalation step on each page

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidentresponder", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("page_error", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    with op.batch_alter_table("incidentmessage", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("step", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("incidentmessage", schema=None) as batch_op:
        batch_op.drop_column("step")
    with op.batch_alter_table("incidentresponder", schema=None) as batch_op:
        batch_op.drop_column("page_error")
