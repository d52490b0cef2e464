"""Listing incidents for the API: one query per page, whatever the page size.

The cards' `incident_view` reads names, responders and the policy of one incident at a time,
which is right for one card and wrong for a page of a thousand (1,501 queries for 500). A
listing needs none of that: it selects the summary columns in one statement, pages with a
keyset cursor (the last id seen, so a page is as cheap on the millionth incident as on the
first), and reads without the write lock so a dashboard never queues behind declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from launchops.domain.errors import NotFound
from launchops.services.component_index import ComponentIndex
from launchops.store import read_scope
from launchops.store.models import Incident

__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "IncidentPage", "IncidentRow", "list_incidents"]

DEFAULT_PAGE = 100
MAX_PAGE = 1000


@dataclass(frozen=True)
class IncidentRow:
    id: int
    severity: str
    status: str
    component_id: str | None
    team_id: str | None
    source: str
    title: str
    declared_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class IncidentPage:
    incidents: list[IncidentRow]
    next_cursor: int | None  # pass back as `cursor` for the next (older) page; None at the end


_COLUMNS = tuple(
    col(getattr(Incident, name))
    for name in (
        "id",
        "severity",
        "status",
        "component_id",
        "team_id",
        "source",
        "title",
        "declared_at",
        "acknowledged_at",
        "resolved_at",
    )
)


def list_incidents(
    engine: Engine,
    index: ComponentIndex,
    *,
    status: str | None = None,
    severity: str | None = None,
    component: str | None = None,
    limit: int = DEFAULT_PAGE,
    cursor: int | None = None,
) -> IncidentPage:
    """Newest first. `component` is matched like everywhere else (id, name or alias); an
    unknown one raises NotFound with suggestions rather than answering "no incidents"."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    with read_scope(engine) as session:
        query = select(*_COLUMNS)
        if component:
            component_id = index.exact(session, component)
            if component_id is None:
                suggestions = index.suggest(session, component)
                raise NotFound(
                    "error.unknown_component",
                    query=component,
                    suggestions=[(s.component_id, s.name) for s in suggestions],
                )
            query = query.where(col(Incident.component_id) == component_id)
        if status:
            query = query.where(col(Incident.status) == status)
        if severity:
            query = query.where(col(Incident.severity) == severity)
        if cursor is not None:
            query = query.where(col(Incident.id) < cursor)
        rows = session.execute(query.order_by(col(Incident.id).desc()).limit(limit + 1)).all()
    found = [IncidentRow(*row) for row in rows[:limit]]
    more = len(rows) > limit
    return IncidentPage(found, found[-1].id if more and found else None)
