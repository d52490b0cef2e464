"""`GET /api/v1/incidents`: incidents for scripts and dashboards, backlog (P3) included.

Filters are validated before anything is read: an unknown status or severity is refused by
the Literal types (FastAPI's 422 names the query field), and an unknown component gets a 422
in the same shape with the closest names as suggestions, so a typo is never mistaken for
"no incidents".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from launchops.domain.errors import NotFound
from launchops.domain.incidents import Level, Status
from launchops.services.component_index import ComponentIndex
from launchops.services.incident_list import (
    DEFAULT_PAGE,
    MAX_PAGE,
    IncidentRow,
    list_incidents,
)

__all__ = ["IncidentList", "IncidentSummary", "incidents_router"]

# Incident ids are 32-bit on PostgreSQL: a larger cursor was cast to INTEGER there, a 500.
# Every id is below it, so it is no restriction at all.
MAX_ID = 2**31 - 1


class IncidentSummary(BaseModel):
    """One incident; datetimes are ISO 8601 in UTC."""

    id: int
    number: int = Field(description="The incident number people see as INC-<number>.")
    severity: Level
    status: Status
    component: str | None = Field(description="The component id, or null for a team incident.")
    team: str | None = Field(None, description="The Responsible team's id.")
    source: str = Field("chat", description="`chat`, `alertmanager` or `api`.")
    title: str
    declared_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None

    @classmethod
    def of(cls, row: IncidentRow) -> IncidentSummary:
        return cls.model_validate(
            {
                "id": row.id,
                "number": row.id,
                "severity": row.severity,
                "status": row.status,
                "component": row.component_id,
                "team": row.team_id,
                "source": row.source,
                "title": row.title,
                "declared_at": row.declared_at,
                "acknowledged_at": row.acknowledged_at,
                "resolved_at": row.resolved_at,
            }
        )


class IncidentList(BaseModel):
    """Newest first, at most `limit` incidents."""

    incidents: list[IncidentSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next (older) page; null on the last page."
    )


def incidents_router(engine: Engine, index: ComponentIndex) -> APIRouter:
    router = APIRouter(tags=["incidents"])

    @router.get("/incidents", response_model=IncidentList, summary="List incidents")
    async def list_incidents_route(
        status: Annotated[Status | None, Query(description="Only incidents in this state.")] = None,
        severity: Annotated[Level | None, Query(description="Only this severity.")] = None,
        component: Annotated[
            str | None,
            Query(min_length=1, max_length=200, description="A component id, name or alias."),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_PAGE, description="Incidents per page.")
        ] = DEFAULT_PAGE,
        cursor: Annotated[
            str | None,
            Query(
                pattern=r"^[1-9][0-9]{0,17}$",
                description="The `next_cursor` of the previous page.",
            ),
        ] = None,
    ) -> IncidentList:
        """Incidents newest first, filtered by status, severity and component, a page at a
        time: follow `next_cursor` until it is null."""
        try:
            page = await run_in_threadpool(
                list_incidents,
                engine,
                index,
                status=status,
                severity=severity,
                component=component,
                limit=limit,
                cursor=int(cursor) if cursor and int(cursor) <= MAX_ID else None,
            )
        except NotFound as error:
            suggestions = [ident for ident, _name in error.params.get("suggestions", [])]
            hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
            raise HTTPException(
                status_code=422,
                detail=[
                    {
                        "type": "unknown_component",
                        "loc": ["query", "component"],
                        "msg": f"no component has the id, name or alias {component!r}{hint}",
                        "input": component,
                        "ctx": {"suggestions": suggestions},
                    }
                ],
            ) from None
        return IncidentList(
            incidents=[IncidentSummary.of(row) for row in page.incidents],
            next_cursor=str(page.next_cursor) if page.next_cursor is not None else None,
        )

    return router
