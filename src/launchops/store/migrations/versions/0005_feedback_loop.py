"""feedback loop: failure cases, SLI samples and SLO alert state

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from launchops.store.types import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "failurecase",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component_id", _text(64), nullable=False),
        sa.Column("kind", _text(32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("input", sa.Text(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("model_version", sa.Text(), nullable=True),
        sa.Column("prompt_version", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.Text(), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("source", _text(8), nullable=False),
        sa.Column("person_id", _text(64), nullable=True),
        sa.ForeignKeyConstraint(["component_id"], ["component.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("component_id", "trace_id", name="uq_failurecase_trace"),
    )
    with op.batch_alter_table("failurecase", schema=None) as batch_op:
        batch_op.create_index("ix_failurecase_component_occurred", ["component_id", "occurred_at"])
        batch_op.create_index("ix_failurecase_occurred", ["occurred_at"])

    op.create_table(
        "slisample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component_id", _text(64), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("errors_4xx", sa.Integer(), nullable=False),
        sa.Column("errors_5xx", sa.Integer(), nullable=False),
        sa.Column("latency_p50", sa.Float(), nullable=True),
        sa.Column("latency_p95", sa.Float(), nullable=True),
        sa.Column("latency_p99", sa.Float(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["component_id"], ["component.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "component_id", "period_start", "period_end", name="uq_slisample_period"
        ),
    )
    with op.batch_alter_table("slisample", schema=None) as batch_op:
        batch_op.create_index("ix_slisample_component_end", ["component_id", "period_end"])

    op.create_table(
        "sloalert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", _text(64), nullable=False),
        sa.Column("kind", _text(32), nullable=False),
        sa.Column("window", _text(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("cleared_at", UTCDateTime(), nullable=True),
        sa.Column("open_key", _text(160), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_key", name="uq_sloalert_open_key"),
    )
    with op.batch_alter_table("sloalert", schema=None) as batch_op:
        batch_op.create_index("ix_sloalert_subject", ["subject", "kind"])


def downgrade() -> None:
    with op.batch_alter_table("sloalert", schema=None) as batch_op:
        batch_op.drop_index("ix_sloalert_subject")
    op.drop_table("sloalert")
    with op.batch_alter_table("slisample", schema=None) as batch_op:
        batch_op.drop_index("ix_slisample_component_end")
    op.drop_table("slisample")
    with op.batch_alter_table("failurecase", schema=None) as batch_op:
        batch_op.drop_index("ix_failurecase_occurred")
        batch_op.drop_index("ix_failurecase_component_occurred")
    op.drop_table("failurecase")
