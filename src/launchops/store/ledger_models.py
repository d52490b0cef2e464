"""The change ledger: what was deployed (or rolled back) where, when and by whom.

One row per deployment, from `POST /api/v1/deployments` or `deploy` in chat. Incident cards
read a component's latest rows (`(component_id, deployed_at)` index: one indexed query,
newest first); the weekly digest and the monthly report read a period's rows through the
same index. `external_id` makes a retried post (or a retried chat request) land once: it is
unique per component, and NULLs never collide on either backend.

Texts a person typed (the description, a free-text actor) are masked before a row is built.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from launchops.store import models as _catalog  # noqa: F401  (the tables these point at)
from launchops.store.types import UTCDateTime, utcnow

__all__ = ["Deployment"]


class Deployment(SQLModel, table=True):
    """One change to a component in one environment: a deploy or a rollback."""

    __table_args__ = (
        UniqueConstraint("component_id", "external_id", name="uq_deployment_external"),
        Index("ix_deployment_component_at", "component_id", "deployed_at"),
        Index("ix_deployment_at", "deployed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    component_id: str = Field(foreign_key="component.id", max_length=64)
    version: str = Field(max_length=200)
    environment: str = Field(default="production", max_length=64)
    kind: str = Field(default="deploy", max_length=16)  # deploy | rollback
    actor: str | None = Field(default=None, max_length=200)  # a name or masked free text
    person_id: str | None = Field(default=None, max_length=64)  # when the actor is a person
    deployed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    url: str | None = Field(default=None, max_length=2000)
    rollback_url: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, sa_type=Text)
    external_id: str | None = Field(default=None, max_length=200)
    source: str = Field(default="api", max_length=8)  # api | chat
