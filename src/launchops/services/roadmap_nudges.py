"""The roadmap's nudges: at a stage's timebox its owner is asked for a decision; at its hard
limit the sponsor and the owner are told together (DESIGN.md §4 "Roadmap clocks").

The scheduler runs `sweep` every second on every replica. Each nudge is claimed by inserting
its `RoadmapNudge` row (`INSERT … ON CONFLICT DO NOTHING`, so a lost race aborts nothing on
PostgreSQL) in the same transaction as its outbox rows: one replica wins, a restart finds
the row and sends nothing again, and a bot that was down catches up at its next sweep. The
clock is read again inside that transaction, so an extension or a stop that lands between
the read and the claim is honoured rather than nudged over.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from launchops.domain.roadmap import Clock, is_due
from launchops.messages import roadmap_views as views
from launchops.messages.reply import Reply
from launchops.services import audit
from launchops.services.directory import DirectoryCache
from launchops.services.incident_state import unit_of_work
from launchops.services.roadmap_reads import clock_for, clocks, direct, stops
from launchops.store import read_scope
from launchops.store.roadmap_models import ProjectStop, RoadmapNudge
from launchops.store.types import utcnow

__all__ = ["RoadmapNudger"]

log = structlog.get_logger(__name__)

_NUDGES: Table = RoadmapNudge.__table__  # type: ignore[attr-defined]
Key = tuple[str, str, datetime, str, int]


class RoadmapNudger:
    def __init__(
        self,
        engine: Engine,
        *,
        platforms: tuple[str, ...],
        directory: DirectoryCache,
        default_locale: str = "en",
        clock: Callable[[], datetime] = utcnow,
        on_enqueue: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._platforms = platforms
        self._directory = directory
        self._locale = default_locale
        self._clock = clock
        self._on_enqueue = on_enqueue or (lambda: None)

    def set_wakeup(self, on_enqueue: Callable[[], None]) -> None:
        self._on_enqueue = on_enqueue

    def _unit(self) -> AbstractContextManager[Session]:
        return unit_of_work(self._engine, lambda: self._on_enqueue())

    def sweep(self) -> int:
        """Send every nudge that is due and not yet sent; returns how many this call sent."""
        now = self._clock()
        with read_scope(self._engine) as session:
            directory = self._directory.get(session)
            stopped = stops(session)
            sent = {
                (r.project_id, r.stage, r.stage_entered, r.kind, r.version)
                for r in session.exec(select(RoadmapNudge)).all()
            }
            due = [
                (kind, clock)
                for clock in clocks(session, directory).values()
                if clock.project_id not in stopped
                for kind in [_due_kind(clock, now)]
                if kind is not None and _key(clock, kind) not in sent
            ]
        return sum(self._nudge(kind, clock) for kind, clock in due)

    def _nudge(self, kind: str, seen: Clock) -> bool:
        with self._unit() as session:
            directory = self._directory.get(session)
            clock = clock_for(session, directory, seen.project_id)
            project = directory.projects.get(seen.project_id)
            stop = session.get(ProjectStop, seen.project_id)
            if clock != seen or project is None or stop is not None:
                return False  # moved, retired or stopped since the sweep read it
            if not _claim(session, clock, kind, self._clock()):
                return False  # another replica (or an earlier sweep) sent it
            now = self._clock()
            owner = directory.people.get(project.owner)
            sponsor = directory.people.get(project.sponsor) if project.sponsor else None
            if kind == "timebox":
                people = [project.owner]

                def render(locale: str) -> Reply:
                    return views.timebox_nudge(project.name, clock, now, locale)
            else:
                people = [p for p in (project.sponsor, project.owner) if p]

                def render(locale: str) -> Reply:
                    return views.limit_notice(
                        project.name,
                        clock,
                        now,
                        owner.name if owner else project.owner,
                        sponsor.name if sponsor else None,
                        locale,
                    )

            reached = direct(
                session,
                directory,
                self._platforms,
                people,
                render,
                _dedupe(clock, kind),
                self._locale,
            )
            audit.record(
                session,
                actor="scheduler",
                action=f"roadmap.nudged.{kind}",
                subject=f"project:{project.id}",
                stage=clock.stage,
                version=clock.version,
                reached=reached,
            )
            log.info("roadmap.nudged", project=project.id, kind=kind, stage=clock.stage)
            return True


def _due_kind(clock: Clock, now: datetime) -> str | None:
    """Past the limit only the limit counts: a bot that was down past both sends the one
    message that matters, and a sent limit is never followed by a late timebox nudge."""
    if is_due(clock.limit_at, now):
        return "limit"
    if is_due(clock.due_at, now):
        return "timebox"
    return None


def _key(clock: Clock, kind: str) -> Key:
    return (clock.project_id, clock.stage, clock.entered_at, kind, clock.version)


def _dedupe(clock: Clock, kind: str) -> str:
    return (
        f"roadmap:{clock.project_id}:{clock.stage}:{clock.entered_at.timestamp():.0f}"
        f":{kind}:{clock.version}"
    )


def _claim(session: Session, clock: Clock, kind: str, now: datetime) -> bool:
    deadline = clock.limit_at if kind == "limit" else clock.due_at
    assert deadline is not None
    values: dict[str, Any] = {
        "project_id": clock.project_id,
        "stage": clock.stage,
        "stage_entered": clock.entered_at,
        "kind": kind,
        "version": clock.version,
        "due_at": deadline,
        "claimed_at": now,
    }
    dialect = session.get_bind().dialect.name
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(_NUDGES).values(values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(_NUDGES).values(values).on_conflict_do_nothing()
    new_id = session.execute(statement.returning(_NUDGES.c.id)).scalar_one_or_none()
    return new_id is not None
