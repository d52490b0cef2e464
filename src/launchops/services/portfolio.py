"""The portfolio: every project with its stage clock, open gate, open incidents and flags, and
the Scale view the guide measures success by (use cases reaching Production per quarter, the
median time per stage, what was stopped and why).

Reads only; the arithmetic is domain/roadmap.py. One read scope per call and a handful of
queries for the whole organisation, so the API and the chat answer stay cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from launchops.domain.errors import BadCommand
from launchops.domain.gates import STAGES
from launchops.domain.portfolio import (
    PRODUCTION_GOAL,
    OpenGate,
    ProjectRow,
    ScaleView,
    StoppedProject,
)
from launchops.domain.roadmap import (
    Pass,
    days,
    flags_of,
    median_days_per_stage,
    quarter_of,
    reached_production,
)
from launchops.services.directory import Directory, DirectoryCache
from launchops.services.roadmap_reads import clocks, stops, team_of
from launchops.store import read_scope
from launchops.store.gate_models import GateRequest
from launchops.store.models import Incident
from launchops.store.types import utcnow

__all__ = ["PRODUCTION_GOAL", "OpenGate", "Portfolio", "ProjectRow", "ScaleView", "StoppedProject"]


class Portfolio:
    def __init__(
        self, engine: Engine, directory: DirectoryCache, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._engine = engine
        self._directory = directory
        self._clock = clock

    def projects(self, stage: str | None = None, team: str | None = None) -> list[ProjectRow]:
        """Every current project (catalog order), optionally only one stage or one team's
        (a project's team is its owner's). An unknown stage or team is refused, so a typo is
        never mistaken for an empty portfolio."""
        now = self._clock()
        with read_scope(self._engine) as session:
            directory = self._directory.get(session)
            _check_filters(directory, stage, team)
            clock_of = clocks(session, directory)
            stopped = stops(session)
            gates = {
                g.project_id: OpenGate(g.id or 0, g.to_stage, g.requested_at)
                for g in session.exec(select(GateRequest).where(GateRequest.status == "open"))
            }
            incidents = dict(
                session.exec(
                    select(Incident.component_id, func.count())
                    .where(col(Incident.status) != "resolved")
                    .group_by(col(Incident.component_id))
                ).all()
            )
        rows: list[ProjectRow] = []
        for project in directory.projects.values():
            clock = clock_of.get(project.id)
            owner_team = team_of(directory, project.owner)
            if clock is None or (stage and clock.stage != stage):
                continue
            if team and (owner_team is None or owner_team.id != team):
                continue
            owner = directory.people.get(project.owner)
            sponsor = directory.people.get(project.sponsor) if project.sponsor else None
            is_stopped = project.id in stopped
            rows.append(
                ProjectRow(
                    id=project.id,
                    name=project.name,
                    stage=clock.stage,
                    owner=project.owner,
                    owner_name=owner.name if owner else project.owner,
                    sponsor=project.sponsor,
                    sponsor_name=sponsor.name if sponsor else None,
                    team=owner_team.id if owner_team else None,
                    entered_at=clock.entered_at,
                    days_in_stage=round(days(clock.entered_at, now), 1),
                    timebox=clock.due_at - clock.entered_at if clock.due_at else None,
                    limit=clock.limit_at - clock.entered_at if clock.limit_at else None,
                    due_at=clock.due_at,
                    limit_at=clock.limit_at,
                    clock_version=clock.version,
                    open_gate=gates.get(project.id),
                    open_incidents=sum(incidents.get(c, 0) for c in project.components),
                    flags=tuple(flags_of(clock, now, sponsor=project.sponsor, stopped=is_stopped)),
                    stopped=is_stopped,
                )
            )
        return rows

    def scale(self) -> ScaleView:
        """The Scale view, from gate history: this quarter's arrivals in Production, the
        median days per stage over the last four quarters, and every stopped project."""
        now = self._clock()
        with read_scope(self._engine) as session:
            directory = self._directory.get(session)
            passes = [
                Pass(g.project_id, g.from_stage, g.to_stage, g.decided_at)
                for g in session.exec(select(GateRequest).where(GateRequest.status == "passed"))
                if g.decided_at is not None
            ]
            names = {p.id: p.name for p in directory.projects.values()}
            stopped = tuple(
                StoppedProject(
                    s.project_id,
                    names.get(s.project_id, s.project_id),
                    s.stage,
                    s.reason,
                    s.by,
                    s.at,
                )
                for s in sorted(stops(session).values(), key=lambda s: s.at)
            )
        return ScaleView(
            quarter=quarter_of(now),
            reached_production=tuple(reached_production(passes, now)),
            median_days=median_days_per_stage(passes, now),
            stopped=stopped,
        )


def _check_filters(directory: Directory, stage: str | None, team: str | None) -> None:
    if stage is not None and stage not in STAGES:
        raise BadCommand("roadmap.error.bad_filter", field="stage", given=stage[:40])
    if team is not None and team not in directory.teams:
        raise BadCommand("roadmap.error.bad_filter", field="team", given=team[:40])
