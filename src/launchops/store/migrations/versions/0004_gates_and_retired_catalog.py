"""stage gates (current stage, requests, decisions, attestations, evidence changes); catalog rows
retired instead of deleted

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from launchops.store.types import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CATALOG = ("person", "team", "component", "project")
_OPEN = sa.text("status = 'open'")


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    for table in _CATALOG:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("retired_at", UTCDateTime(), nullable=True))

    op.create_table(
        "projectstage",
        sa.Column("project_id", _text(64), nullable=False),
        sa.Column("stage", _text(16), nullable=False),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("changed_by", _text(200), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("project_id"),
    )
    # Projects synced before this revision start their clock now, at the stage config gave.
    op.execute(
        "INSERT INTO projectstage (project_id, stage, entered_at, changed_by) "
        "SELECT id, stage, CURRENT_TIMESTAMP, 'config' FROM project"
    )

    op.create_table(
        "gaterequest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", _text(64), nullable=False),
        sa.Column("from_stage", _text(16), nullable=False),
        sa.Column("to_stage", _text(16), nullable=False),
        sa.Column("status", _text(16), nullable=False),
        sa.Column("requested_by", _text(64), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("next_reminder_at", UTCDateTime(), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("evidence_version", sa.Integer(), nullable=False),
        sa.Column("evidence_fingerprint", _text(64), nullable=False),
        sa.Column("request_key", _text(255), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key", name="uq_gate_request_key"),
    )
    with op.batch_alter_table("gaterequest", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gaterequest_project_id"), ["project_id"])
        batch_op.create_index("ix_gate_due", ["status", "next_reminder_at"])
        batch_op.create_index(
            "uq_gate_open_per_project",
            ["project_id"],
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        )

    op.create_table(
        "gatedecision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("person_id", _text(64), nullable=False),
        sa.Column("verdict", _text(8), nullable=False),
        sa.Column("reason", _text(2000), nullable=True),
        sa.Column("evidence_version", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["gaterequest.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "request_id", "person_id", "evidence_version", name="uq_gate_decision_once"
        ),
    )
    with op.batch_alter_table("gatedecision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gatedecision_request_id"), ["request_id"])

    op.create_table(
        "gateattestation",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("key", _text(64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("value", _text(500), nullable=True),
        sa.Column("by", _text(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["gaterequest.id"]),
        sa.PrimaryKeyConstraint("request_id", "key"),
    )

    op.create_table(
        "evidencechange",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", _text(500), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["gaterequest.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evidencechange", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidencechange_request_id"), ["request_id"])


def downgrade() -> None:
    op.drop_table("evidencechange")
    op.drop_table("gateattestation")
    op.drop_table("gatedecision")
    with op.batch_alter_table("gaterequest", schema=None) as batch_op:
        batch_op.drop_index("uq_gate_open_per_project", sqlite_where=_OPEN, postgresql_where=_OPEN)
        batch_op.drop_index("ix_gate_due")
        batch_op.drop_index(batch_op.f("ix_gaterequest_project_id"))
    op.drop_table("gaterequest")
    op.drop_table("projectstage")
    for table in reversed(_CATALOG):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("retired_at")
