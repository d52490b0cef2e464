"""Tables of the feedback loop: failure cases, SLI samples and the SLO alerts they raised.

Every text column holds masked text only (domain/masking.py runs before a row is built), so
a database dump, a backup or a replica's disk never carries the PII people posted. Texts
are `Text`, not bounded strings: masking may lengthen a text a little (`a@b.io` → `[email]`),
and the API already bounds what comes in.

Failure cases are read by week and component (the weekly digest), hence the
`(component_id, occurred_at)` index; a case's `trace_id` is unique per component so a
retried upload stores it once. An SLO alert is open while `open_key` is set: the unique
constraint on it is the "one open alert per breach" rule, portable to SQLite and PostgreSQL
alike (NULLs never collide), and a replica racing another simply loses the insert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from launchops.store import models as _catalog  # noqa: F401  (the tables these point at)
from launchops.store.types import UTCDateTime, utcnow

__all__ = ["FailureCase", "SliSample", "SloAlert"]


def _when(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kwargs)


class FailureCase(SQLModel, table=True):
    """One failure a launch produced: a low-confidence answer, a thumbs-down, an error."""

    __table_args__ = (
        UniqueConstraint("component_id", "trace_id", name="uq_failurecase_trace"),
        Index("ix_failurecase_component_occurred", "component_id", "occurred_at"),
        Index("ix_failurecase_occurred", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    component_id: str = Field(foreign_key="component.id", max_length=64)
    kind: str = Field(max_length=32)
    summary: str = Field(sa_type=Text)
    input: str | None = Field(default=None, sa_type=Text)
    output: str | None = Field(default=None, sa_type=Text)
    confidence: float | None = None
    model_version: str | None = Field(default=None, sa_type=Text)
    prompt_version: str | None = Field(default=None, sa_type=Text)
    trace_id: str | None = Field(default=None, sa_type=Text)
    occurred_at: datetime = _when()
    recorded_at: datetime = _when()
    source: str = Field(default="api", max_length=8)  # api | chat
    person_id: str | None = Field(default=None, max_length=64)  # who recorded it from chat


class SliSample(SQLModel, table=True):
    """A component's service-level indicators summed over one period (e.g. 5 minutes)."""

    __table_args__ = (
        UniqueConstraint("component_id", "period_start", "period_end", name="uq_slisample_period"),
        Index("ix_slisample_component_end", "component_id", "period_end"),
    )

    id: int | None = Field(default=None, primary_key=True)
    component_id: str = Field(foreign_key="component.id", max_length=64)
    period_start: datetime = Field(sa_type=UTCDateTime)
    period_end: datetime = Field(sa_type=UTCDateTime)
    requests: int
    successes: int
    errors_4xx: int = 0
    errors_5xx: int = 0
    latency_p50: float | None = None  # seconds
    latency_p95: float | None = None
    latency_p99: float | None = None
    cost: float = 0.0  # the unit of `slo.monthly_cost_budget`
    recorded_at: datetime = _when()


class SloAlert(SQLModel, table=True):
    """One breach of one objective: opened once, cleared once (with a recovery note).

    `window` is empty for objectives that breach and recover (success rate, latency) and
    names the day or month for budgets, which simply run out with their window.
    """

    __table_args__ = (
        UniqueConstraint("open_key", name="uq_sloalert_open_key"),
        Index("ix_sloalert_subject", "subject", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=64)  # the component id
    kind: str = Field(max_length=32)  # success_rate | latency_p95 | daily_cost | monthly_budget
    window: str = Field(default="", max_length=16)
    value: float
    threshold: float
    opened_at: datetime = _when()
    cleared_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # `subject:kind:window` while open, NULL once cleared.
    open_key: str | None = Field(default=None, max_length=160)
