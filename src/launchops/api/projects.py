"""`GET /api/v1/projects`: the portfolio for scripts and dashboards, with the Scale view.

Filters are checked before anything is read: an unknown stage is refused by the Literal type
(FastAPI's 422 names the query field) and an unknown team gets a 422 in the same shape, so a
typo never reads as "no projects".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from launchops.domain.errors import BadCommand
from launchops.services.portfolio import Portfolio, ProjectRow, ScaleView

__all__ = ["ProjectList", "ProjectSummary", "projects_router"]

StageName = Literal["explore", "poc", "pilot", "production", "scale"]
Flag = Literal["over_timebox", "over_limit", "no_sponsor", "stopped"]


class OpenGateSummary(BaseModel):
    id: int
    to_stage: StageName
    requested_at: datetime


class ProjectSummary(BaseModel):
    """One project; datetimes are ISO 8601 in UTC, durations in days."""

    id: str
    name: str
    stage: StageName
    owner: str = Field(description="The owner's person id.")
    sponsor: str | None = Field(description="The sponsor's person id, or null.")
    team: str | None = Field(description="The owner's team id.")
    stage_entered: datetime
    days_in_stage: float
    timebox_days: float | None = Field(description="Stage entry to its (extended) deadline.")
    limit_days: float | None = Field(description="Stage entry to its hard limit.")
    timebox_at: datetime | None
    limit_at: datetime | None
    clock_version: int
    open_gate: OpenGateSummary | None
    open_incidents: int
    flags: list[Flag] = Field(description="Most urgent first; `over_limit` until decided.")

    @classmethod
    def of(cls, row: ProjectRow) -> ProjectSummary:
        return cls.model_validate(
            {
                "id": row.id,
                "name": row.name,
                "stage": row.stage,
                "owner": row.owner,
                "sponsor": row.sponsor,
                "team": row.team,
                "stage_entered": row.entered_at,
                "days_in_stage": row.days_in_stage,
                "timebox_days": _days(row.timebox.total_seconds()) if row.timebox else None,
                "limit_days": _days(row.limit.total_seconds()) if row.limit else None,
                "timebox_at": row.due_at,
                "limit_at": row.limit_at,
                "clock_version": row.clock_version,
                "open_gate": (
                    {
                        "id": row.open_gate.id,
                        "to_stage": row.open_gate.to_stage,
                        "requested_at": row.open_gate.requested_at,
                    }
                    if row.open_gate
                    else None
                ),
                "open_incidents": row.open_incidents,
                "flags": list(row.flags),
            }
        )


class ReachedProduction(BaseModel):
    project: str
    at: datetime


class StoppedSummary(BaseModel):
    project: str
    stage: StageName
    reason: str
    by: str
    at: datetime


class ScaleSummary(BaseModel):
    """The guide's portfolio measures: at least `goal` use cases into Production a quarter,
    time per stage falling."""

    quarter: str = Field(description="This quarter, e.g. 2026-Q4.")
    reached_production: list[ReachedProduction]
    goal: int
    median_days_per_stage: dict[str, float] = Field(
        description="Over stays that ended in the last four quarters, from gate history."
    )
    stopped: list[StoppedSummary]

    @classmethod
    def of(cls, view: ScaleView) -> ScaleSummary:
        return cls(
            quarter=view.quarter,
            reached_production=[
                ReachedProduction(project=p.project_id, at=p.at) for p in view.reached_production
            ],
            goal=view.goal,
            median_days_per_stage=view.median_days,
            stopped=[
                StoppedSummary(
                    project=s.id,
                    stage=s.stage,
                    reason=s.reason,
                    by=s.by,
                    at=s.at,
                )
                for s in view.stopped
            ],
        )


class ProjectList(BaseModel):
    projects: list[ProjectSummary]
    scale: ScaleSummary


def _days(seconds: float) -> float:
    return round(seconds / 86400, 3)


def projects_router(portfolio: Portfolio) -> APIRouter:
    router = APIRouter(tags=["projects"])

    @router.get("/projects", response_model=ProjectList, summary="List projects (portfolio)")
    async def list_projects_route(
        stage: Annotated[
            StageName | None, Query(description="Only projects in this stage.")
        ] = None,
        team: Annotated[
            str | None,
            Query(min_length=1, max_length=64, description="Only this team's (the owner's)."),
        ] = None,
    ) -> ProjectList:
        """Every project with its stage clock, open gate, open incidents and flags, and the
        Scale view over the whole portfolio (filters do not narrow it)."""
        try:
            rows = await run_in_threadpool(portfolio.projects, stage, team)
        except BadCommand as error:
            field = str(error.params.get("field", "team"))
            raise HTTPException(
                status_code=422,
                detail=[
                    {
                        "type": f"unknown_{field}",
                        "loc": ["query", field],
                        "msg": f"no {field} {error.params.get('given')!r}",
                        "input": error.params.get("given"),
                    }
                ],
            ) from None
        scale = await run_in_threadpool(portfolio.scale)
        return ProjectList(
            projects=[ProjectSummary.of(row) for row in rows], scale=ScaleSummary.of(scale)
        )

    return router
