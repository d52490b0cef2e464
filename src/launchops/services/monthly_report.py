"""The guide's monthly operations report for each project in Production: SLO attainment,
incidents by severity with time to acknowledge and resolve, cost against budget, the failure
trend and the gates decided — posted to the project's channel and sent to its sponsor.

Exactly once per project and month (DESIGN.md §2): the scheduler, on every replica, tries
to insert the month's `MonthlyReportClaim` (round 0) with the report's outbox rows in the
same transaction; `launchops report --send` resends under the next round. The scheduled send
is due from 09:00 (the digest's time zone) on the first working day of the month, for the
month before; a bot that was down then catches up later that month.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.delivery import outbox
from launchops.domain.errors import BadCommand
from launchops.domain.reports import MonthlyReport
from launchops.domain.slo import objectives_for
from launchops.messages import roadmap_views as views
from launchops.services.config_sync import installed_at
from launchops.services.destinations import dm_destination
from launchops.services.directory import Directory, DirectoryCache, ProjectInfo
from launchops.services.gate_records import find_project
from launchops.services.incident_state import unit_of_work
from launchops.services.ledger import component_names, deployments_between
from launchops.services.roadmap_reads import project_destinations
from launchops.store import read_scope
from launchops.store.feedback_models import FailureCase, SliSample
from launchops.store.gate_models import GateRequest, ProjectStage
from launchops.store.models import Incident
from launchops.store.roadmap_models import MonthlyReportClaim
from launchops.store.types import utcnow

__all__ = ["MonthlyReport", "MonthlyReporter", "first_working_day", "month_bounds"]

log = structlog.get_logger(__name__)

_CLAIMS: Table = MonthlyReportClaim.__table__  # type: ignore[attr-defined]
SEND_AT = time(9, 0)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """`YYYY-MM` → [first instant, first instant of the next month), UTC."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise BadCommand("roadmap.error.bad_month", given=month[:20]) from None
    return start, _next_month(start)


def _as_utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive (they are stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def _previous_month(moment: datetime) -> str:
    first = moment.replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def first_working_day(year: int, month: int) -> int:
    """The day of the month of its first Monday–Friday."""
    day = 1
    while datetime(year, month, day).weekday() >= 5:
        day += 1
    return day


class MonthlyReporter:
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

    def build(self, month: str, project: str | None = None) -> list[MonthlyReport]:
        """The month's reports: every project now in Production, or the one named (in any
        stage: `launchops report --project` may look at a Pilot too)."""
        start, end = month_bounds(month)
        with read_scope(self._engine) as session:
            directory = self._directory.get(session)
            return [
                _report(session, directory, p, month, start, end)
                for p in _projects(session, directory, project)
            ]

    def send(
        self, month: str, project: str | None = None, *, force: bool = False, by: str = "cli"
    ) -> int:
        """Post each report to its project's channel and DM it to its sponsor; returns how
        many were sent. Without `force` a month already sent is skipped (the claim); with it,
        sent again as the next round."""
        start, end = month_bounds(month)
        sent = 0
        with read_scope(self._engine) as session:
            directory = self._directory.get(session)
            targets = [p.id for p in _projects(session, directory, project)]
            if not force:
                # Read first: the scheduler asks every minute all month, and a write
                # transaction per project per minute would hold SQLite's lock for nothing.
                claimed = set(
                    session.exec(
                        select(MonthlyReportClaim.project_id).where(
                            MonthlyReportClaim.month == month, MonthlyReportClaim.round == 0
                        )
                    ).all()
                )
                targets = [t for t in targets if t not in claimed]
        for project_id in targets:
            with unit_of_work(self._engine, lambda: self._on_enqueue()) as session:
                directory = self._directory.get(session)
                info = directory.projects[project_id]
                round_ = _next_round(session, project_id, month) if force else 0
                if not _claim(session, project_id, month, round_, by, self._clock()):
                    continue
                report = _report(session, directory, info, month, start, end)
                self._deliver(session, directory, info, report, round_)
                sent += 1
        return sent

    def run_due(self) -> int:
        """The scheduler's job: last month's reports, once due this month (see module doc)."""
        with read_scope(self._engine) as session:
            zone = ZoneInfo(self._directory.get(session).policy.digest.timezone)
            since = installed_at(session)
        local = self._clock().astimezone(zone)
        due_day = first_working_day(local.year, local.month)
        if (local.day, local.time()) < (due_day, SEND_AT):
            return 0
        month = _previous_month(local)
        if since is None or _as_utc(since) >= month_bounds(month)[1]:
            return 0  # the month ended before this organisation's first sync
        return self.send(month, by="scheduler")

    def _deliver(
        self,
        session: Session,
        directory: Directory,
        project: ProjectInfo,
        report: MonthlyReport,
        round_: int,
    ) -> None:
        key = f"report:{project.id}:{report.month}:{round_}"
        for platform, kind, destination in project_destinations(
            directory, project, self._platforms
        ):
            outbox.enqueue(
                session,
                platform=platform,
                kind=kind,
                destination=destination,
                reply=views.monthly_report(report, self._locale),
                locale=self._locale,
                dedupe_key=f"{key}:channel:{platform}",
                priority=outbox.PRIORITY_BULK,
            )
        sponsor = directory.people.get(project.sponsor) if project.sponsor else None
        if sponsor is None:
            return
        locale = sponsor.locale or self._locale
        for platform in self._platforms:
            where = dm_destination(platform, sponsor)
            if where is not None:
                outbox.enqueue(
                    session,
                    platform=platform,
                    kind=where[0],
                    destination=where[1],
                    reply=views.monthly_report(report, locale),
                    locale=locale,
                    dedupe_key=f"{key}:sponsor:{platform}",
                    priority=outbox.PRIORITY_BULK,
                )


def _projects(session: Session, directory: Directory, query: str | None) -> list[ProjectInfo]:
    if query:
        return [find_project(directory, query)]
    in_production = set(
        session.exec(
            select(ProjectStage.project_id).where(ProjectStage.stage == "production")
        ).all()
    )
    return [p for p in directory.projects.values() if p.id in in_production]


def _report(
    session: Session,
    directory: Directory,
    project: ProjectInfo,
    month: str,
    start: datetime,
    end: datetime,
) -> MonthlyReport:
    components = list(project.components) or [""]
    samples = session.exec(
        select(SliSample).where(
            col(SliSample.component_id).in_(components),
            col(SliSample.period_end) > start,
            col(SliSample.period_end) <= end,
        )
    ).all()
    requests = sum(s.requests for s in samples)
    weighted = [(s.latency_p95, s.requests) for s in samples if s.latency_p95 is not None]
    weight = sum(n for _, n in weighted)
    objectives = objectives_for(directory.policy.slo, "", [project.id])
    incidents = session.exec(
        select(Incident).where(
            col(Incident.component_id).in_(components),
            col(Incident.declared_at) >= start,
            col(Incident.declared_at) < end,
        )
    ).all()
    by_level: dict[str, int] = {}
    for incident in sorted(incidents, key=lambda i: i.severity):
        by_level[incident.severity] = by_level.get(incident.severity, 0) + 1
    previous_start = (start - timedelta(days=1)).replace(day=1)
    return MonthlyReport(
        project_id=project.id,
        project_name=project.name,
        month=month,
        success_rate=sum(s.successes for s in samples) / requests if requests else None,
        success_target=objectives.success_rate,
        latency_target_ms=objectives.latency_p95 * 1000,
        latency_p95_ms=(sum(p * n for p, n in weighted) / weight * 1000 if weight else None),
        cost=sum(s.cost for s in samples) if samples else None,
        budget=objectives.monthly_cost_budget,
        incidents=by_level,
        mean_ack=_mean_delay([(i.declared_at, i.acknowledged_at) for i in incidents]),
        mean_resolve=_mean_delay([(i.declared_at, i.resolved_at) for i in incidents]),
        times={
            level: (
                _mean_delay(
                    [(i.declared_at, i.acknowledged_at) for i in incidents if i.severity == level]
                ),
                _mean_delay(
                    [(i.declared_at, i.resolved_at) for i in incidents if i.severity == level]
                ),
            )
            for level in by_level
        },
        failures=_failures(session, components, start, end),
        deployments=tuple(
            deployments_between(
                session, component_names(directory), list(project.components), start, end
            )
        ),
        failures_before=_failures(session, components, previous_start, start),
        gates_decided=int(
            session.exec(
                select(func.count()).where(
                    col(GateRequest.project_id) == project.id,
                    col(GateRequest.decided_at) >= start,
                    col(GateRequest.decided_at) < end,
                )
            ).one()
        ),
    )


def _mean_delay(pairs: list[tuple[datetime, datetime | None]]) -> timedelta | None:
    delays = [(end - begin).total_seconds() for begin, end in pairs if end is not None]
    return timedelta(seconds=mean(delays)) if delays else None


def _failures(session: Session, components: list[str], start: datetime, end: datetime) -> int:
    return int(
        session.exec(
            select(func.count()).where(
                col(FailureCase.component_id).in_(components),
                col(FailureCase.occurred_at) >= start,
                col(FailureCase.occurred_at) < end,
            )
        ).one()
    )


def _next_round(session: Session, project_id: str, month: str) -> int:
    latest = session.exec(
        select(func.max(MonthlyReportClaim.round)).where(
            MonthlyReportClaim.project_id == project_id, MonthlyReportClaim.month == month
        )
    ).one()
    return 0 if latest is None else int(latest) + 1


def _claim(
    session: Session, project_id: str, month: str, round_: int, by: str, now: datetime
) -> bool:
    values: dict[str, Any] = {
        "project_id": project_id,
        "month": month,
        "round": round_,
        "claimed_at": now,
        "claimed_by": by,
    }
    statement: postgresql.Insert | sqlite.Insert
    if session.get_bind().dialect.name == "postgresql":
        statement = postgresql.insert(_CLAIMS).values(values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(_CLAIMS).values(values).on_conflict_do_nothing()
    return session.execute(statement.returning(_CLAIMS.c.id)).scalar_one_or_none() is not None
