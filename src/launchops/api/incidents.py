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
from starlette.concurrency import run_in_threadpool

from launchops.domain.errors import NotFound
from launchops.domain.incidents import IncidentView, Level, Status
from launchops.services.incidents import IncidentService

__all__ = ["MAX_RESULTS", "IncidentList", "IncidentSummary", "incidents_router"]

MAX_RESULTS = 500


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
    def of(cls, view: IncidentView) -> IncidentSummary:
        return cls.model_validate(
            {
                "id": view.id,
                "number": view.id,
                "severity": view.severity,
                "status": view.status,
                "component": view.component_id,
                "team": view.team_id,
                "source": view.source,
                "title": view.title,
                "declared_at": view.declared_at,
                "acknowledged_at": view.acknowledged_at,
                "resolved_at": view.resolved_at,
            }
        )


class IncidentList(BaseModel):
    """Newest first, at most `limit` incidents."""

    incidents: list[IncidentSummary]


def incidents_router(incidents: IncidentService) -> APIRouter:
    router = APIRouter(tags=["incidents"])

    @router.get("/incidents", response_model=IncidentList, summary="List incidents")
    async def list_incidents(
        status: Annotated[Status | None, Query(description="Only incidents in this state.")] = None,
        severity: Annotated[Level | None, Query(description="Only this severity.")] = None,
        component: Annotated[
            str | None,
            Query(min_length=1, max_length=200, description="A component id, name or alias."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = MAX_RESULTS,
    ) -> IncidentList:
        """Incidents newest first, filtered by status, severity and component."""
        try:
            views = await run_in_threadpool(
                incidents.search,
                status=status,
                severity=severity,
                component=component,
                limit=limit,
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
        return IncidentList(incidents=[IncidentSummary.of(view) for view in views])

    return router
