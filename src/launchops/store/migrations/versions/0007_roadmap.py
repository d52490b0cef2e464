"""roadmap rhythm: project sponsors, nudge claims, extensions, stops, monthly report claims

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from launchops.store.types import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _project() -> list[sa.Column[str]]:
    return [
        sa.Column("project_id", _text(64), nullable=False),
        sa.Column("stage", _text(16), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sponsor_id", _text(64), nullable=True))
    op.create_table(
        "roadmapnudge",
        sa.Column("id", sa.Integer(), nullable=False),
        *_project(),
        sa.Column("stage_entered", UTCDateTime(), nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "project_id", "stage", "stage_entered", "kind", "version", name="uq_roadmapnudge_once"
        ),
    )
    op.create_table(
        "stageextension",
        sa.Column("id", sa.Integer(), nullable=False),
        *_project(),
        sa.Column("stage_entered", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", _text(64), nullable=False),
        sa.Column("approved_by_sponsor", sa.Boolean(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "project_id", "stage", "stage_entered", "version", name="uq_stageextension_version"
        ),
    )
    op.create_table(
        "projectstop",
        *_project(),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", _text(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_table(
        "monthlyreportclaim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", _text(64), nullable=False),
        sa.Column("month", _text(7), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", _text(64), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "month", "round", name="uq_monthlyreport_once"),
    )
    for table in ("roadmapnudge", "stageextension"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(f"ix_{table}_project_id", ["project_id"])


def downgrade() -> None:
    for table in ("stageextension", "roadmapnudge"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_project_id")
    for table in ("monthlyreportclaim", "projectstop", "stageextension", "roadmapnudge"):
        op.drop_table(table)
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("sponsor_id")
