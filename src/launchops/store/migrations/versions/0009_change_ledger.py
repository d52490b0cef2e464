"""change ledger: deployments and rollbacks per component

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from launchops.store.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component_id", _text(64), nullable=False),
        sa.Column("version", _text(200), nullable=False),
        sa.Column("environment", _text(64), nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("actor", _text(200), nullable=True),
        sa.Column("person_id", _text(64), nullable=True),
        sa.Column("deployed_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("url", _text(2000), nullable=True),
        sa.Column("rollback_url", _text(2000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("external_id", _text(200), nullable=True),
        sa.Column("source", _text(8), nullable=False),
        sa.ForeignKeyConstraint(["component_id"], ["component.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("component_id", "external_id", name="uq_deployment_external"),
    )
    op.create_index(
        "ix_deployment_component_at", "deployment", ["component_id", "deployed_at"], unique=False
    )
    op.create_index("ix_deployment_at", "deployment", ["deployed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deployment_at", table_name="deployment")
    op.drop_index("ix_deployment_component_at", table_name="deployment")
    op.drop_table("deployment")
