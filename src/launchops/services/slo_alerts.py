"""SLI samples in, SLO alerts out: one alert per breach, one recovery note when it clears.

Samples are judged as they arrive, in the order their periods ended, against the component's
objectives in the policy in force (domain/slo.py has the rules). A breach opens an `SloAlert`
row and queues its message in the same transaction as the sample; while the row is open,
further breaching samples say nothing; the first sample back inside the line clears it and
queues one recovery note. The row's unique `open_key` is what makes this hold across
replicas: of two racing inserts one is skipped, and only the winner queues a message.

Who hears: success rate and latency go to the Responsible team's channel (the people who
fix it); cost goes to the Accountable person as a direct message (the person who owns the
budget). Budgets are judged per day and per month: each window alerts once and simply ends,
so they have no recovery note. A sample older than the newest one already stored (a
backfill) is kept but does not move alerts, which must follow the present.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from launchops.delivery import outbox
from launchops.domain.slo import (
    Check,
    Objectives,
    burn_rates,
    check_daily_cost,
    check_latency,
    check_monthly_budget,
    check_success,
    objectives_for,
)
from launchops.messages.i18n import t
from launchops.messages.reply import Card, Field, Reply
from launchops.services.component_index import ComponentIndex
from launchops.services.destinations import dm_destination
from launchops.services.directory import Directory
from launchops.services.failures import resolve_components
from launchops.store import session_scope
from launchops.store.feedback_models import SliSample, SloAlert
from launchops.store.types import utcnow

__all__ = ["AlertChange", "NewSample", "SliReceipt", "SloAlerts"]

log = structlog.get_logger(__name__)

_samples = SliSample.__table__  # type: ignore[attr-defined]
_alerts = SloAlert.__table__  # type: ignore[attr-defined]
_RECOVERING: Final = frozenset({"success_rate", "latency_p95"})
_TO_ACCOUNTABLE: Final = frozenset({"daily_cost", "monthly_budget"})


@dataclass(frozen=True)
class NewSample:
    component: str  # id, name or alias
    period_start: datetime
    period_end: datetime
    requests: int
    successes: int
    errors_4xx: int = 0
    errors_5xx: int = 0
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_p99: float | None = None
    cost: float = 0.0


@dataclass(frozen=True)
class AlertChange:
    component: str
    kind: str
    state: Literal["opened", "cleared"]
    value: float
    threshold: float


@dataclass(frozen=True)
class SliReceipt:
    ids: list[int]  # one per sample, in order (a repeated period keeps its first id)
    duplicates: int
    alerts: list[AlertChange]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class SloAlerts:
    def __init__(
        self,
        engine: Engine,
        index: ComponentIndex,
        *,
        platforms: tuple[str, ...],
        locale: str = "en",
        on_enqueue: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._index = index
        self._platforms = platforms
        self._locale = locale
        self._on_enqueue = on_enqueue or (lambda: None)
        self._clock = clock

    def record(self, samples: Sequence[NewSample]) -> SliReceipt:
        """Store the samples and judge the new ones; all in one transaction."""
        components = resolve_components(self._index, [s.component for s in samples])
        directory = self._index.directory.get()
        now = self._clock()
        ids: list[int] = []
        fresh: list[tuple[int, str, NewSample]] = []
        changes: list[AlertChange] = []
        with session_scope(self._engine) as session:
            newest = {c: _newest_end(session, c) for c in set(components)}
            for sample, component in zip(samples, components, strict=True):
                row_id, created = _store(session, sample, component, now)
                ids.append(row_id)
                if created:
                    fresh.append((row_id, component, sample))
            fresh.sort(key=lambda item: _utc(item[2].period_end))
            for _, component, sample in fresh:
                judge = _Judge(session, directory, component, now, self._platforms, self._locale)
                latest = newest[component]
                changes += judge.sample(
                    sample, current=latest is None or _utc(sample.period_end) >= latest
                )
        if changes:
            self._on_enqueue()
        for change in changes:
            log.info(
                f"slo.{change.state}",
                component=change.component,
                kind=change.kind,
                value=round(change.value, 4),
                threshold=round(change.threshold, 4),
            )
        return SliReceipt(ids=ids, duplicates=len(samples) - len(fresh), alerts=changes)


def _newest_end(session: Session, component: str) -> datetime | None:
    found = session.execute(
        select(func.max(_samples.c.period_end)).where(_samples.c.component_id == component)
    ).scalar_one_or_none()
    return _utc(found) if isinstance(found, datetime) else None


def _insert_skipping(session: Session, table: Any, columns: list[str]) -> Any:
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return make(table).on_conflict_do_nothing(index_elements=columns)


def _store(session: Session, sample: NewSample, component: str, now: datetime) -> tuple[int, bool]:
    """(id, created): a period stored before keeps its first row (a retried upload)."""
    values = {
        "component_id": component,
        "period_start": _utc(sample.period_start),
        "period_end": _utc(sample.period_end),
        "requests": sample.requests,
        "successes": sample.successes,
        "errors_4xx": sample.errors_4xx,
        "errors_5xx": sample.errors_5xx,
        "latency_p50": sample.latency_p50,
        "latency_p95": sample.latency_p95,
        "latency_p99": sample.latency_p99,
        "cost": sample.cost,
        "recorded_at": now,
    }
    statement = _insert_skipping(
        session, _samples, ["component_id", "period_start", "period_end"]
    ).values(values)
    new_id = session.execute(statement.returning(_samples.c.id)).scalar_one_or_none()
    if new_id is not None:
        return int(new_id), True
    existing = session.execute(
        select(_samples.c.id).where(
            _samples.c.component_id == component,
            _samples.c.period_start == values["period_start"],
            _samples.c.period_end == values["period_end"],
        )
    ).scalar_one()
    return int(existing), False


class _Judge:
    """Judges one component's sample within the ingest's transaction."""

    def __init__(
        self,
        session: Session,
        directory: Directory,
        component: str,
        now: datetime,
        platforms: tuple[str, ...],
        locale: str,
    ) -> None:
        self._platforms = platforms
        self._locale = locale
        self._session = session
        self._directory = directory
        self._component = component
        self._now = now
        projects = [p.id for p in directory.projects.values() if component in p.components]
        self.objectives: Objectives = objectives_for(directory.policy.slo, component, projects)

    def sample(self, sample: NewSample, *, current: bool) -> list[AlertChange]:
        changes: list[AlertChange] = []
        end = _utc(sample.period_end)
        if current:
            for check in (
                check_success(sample, self.objectives),
                check_latency(sample, self.objectives),
            ):
                if check is not None:
                    changes += self._transition(check, "", end)
        day = _utc(sample.period_start).date()
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        month_start = day_start.replace(day=1)
        spent_today = self._spent(day_start, day_start + timedelta(days=1))
        daily = check_daily_cost(spent_today, day, self.objectives)
        if daily is not None:
            changes += self._transition(daily, day.isoformat(), end)
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        monthly = check_monthly_budget(self._spent(month_start, next_month), self.objectives)
        if monthly is not None:
            changes += self._transition(monthly, month_start.strftime("%Y-%m"), end)
        return changes

    def _spent(self, start: datetime, end: datetime) -> float:
        total = self._session.execute(
            select(func.coalesce(func.sum(_samples.c.cost), 0.0)).where(
                _samples.c.component_id == self._component,
                _samples.c.period_start >= start,
                _samples.c.period_start < end,
            )
        ).scalar_one()
        return float(total)

    def _transition(self, check: Check, window: str, at: datetime) -> list[AlertChange]:
        key = f"{self._component}:{check.kind}:{window}"
        open_id = self._session.execute(
            select(_alerts.c.id).where(_alerts.c.open_key == key)
        ).scalar_one_or_none()
        if check.breached and open_id is None:
            statement = _insert_skipping(self._session, _alerts, ["open_key"]).values(
                subject=self._component,
                kind=check.kind,
                window=window,
                value=check.value,
                threshold=check.threshold,
                opened_at=self._now,
                open_key=key,
            )
            new_id = self._session.execute(statement.returning(_alerts.c.id)).scalar_one_or_none()
            if new_id is None:  # another replica opened it first
                return []
            self._announce(int(new_id), check, "alert", at)
            return [
                AlertChange(self._component, check.kind, "opened", check.value, check.threshold)
            ]
        if not check.breached and open_id is not None and check.kind in _RECOVERING:
            cleared = self._session.execute(
                update(_alerts)
                .where(_alerts.c.id == open_id, _alerts.c.open_key.is_not(None))
                .values(cleared_at=self._now, open_key=None)
            )
            if not getattr(cleared, "rowcount", 0):
                return []
            self._announce(open_id, check, "recovered", at)
            return [
                AlertChange(self._component, check.kind, "cleared", check.value, check.threshold)
            ]
        return []

    # messages ------------------------------------------------------------------------------
    def _announce(self, alert_id: int, check: Check, phase: str, at: datetime) -> None:
        for platform, kind, destination, locale in self._audience(check.kind):
            reply = self._reply(check, phase, at, locale)
            where = ",".join(f"{k}={v}" for k, v in sorted(destination.items()))
            outbox.enqueue(
                self._session,
                platform=platform,
                kind=kind,
                destination=destination,
                reply=reply,
                locale=locale,
                dedupe_key=f"slo:{alert_id}:{phase}:{platform}:{where}"[:255],
                priority=outbox.PRIORITY_NORMAL,
            )

    def _audience(self, kind: str) -> list[tuple[str, str, dict[str, Any], str]]:
        """(platform, outbox kind, destination, locale) for everyone who hears of `kind`."""
        info = self._directory.components.get(self._component)
        if info is None:
            return []
        role = "A" if kind in _TO_ACCOUNTABLE else "R"
        out: list[tuple[str, str, dict[str, Any], str]] = []
        default = self._locale
        for party_kind, party_id in info.raci.get(role, ()):
            for platform in self._platforms:
                if party_kind == "person" and party_id in self._directory.people:
                    person = self._directory.people[party_id]
                    found = dm_destination(platform, person)
                    if found is not None:
                        out.append((platform, found[0], found[1], person.locale or default))
                elif party_kind == "team" and party_id in self._directory.teams:
                    team = self._directory.teams[party_id]
                    channel = {
                        "slack": team.slack_channel,
                        "teams": team.teams_channel,
                        "console": f"#{team.id}",
                    }.get(platform)
                    if channel:
                        field = "conversation" if platform == "teams" else "channel"
                        out.append((platform, "post", {field: channel}, default))
        return out

    def _reply(self, check: Check, phase: str, at: datetime, locale: str) -> Reply:
        info = self._directory.components.get(self._component)
        name = info.name if info is not None else self._component
        shown = {
            "component": name,
            "value": _figure(check.kind, check.value),
            "threshold": _figure(check.kind, check.threshold),
            "objective": _objective(check.kind, self.objectives, locale),
        }
        title = t(f"slo.{phase}.{check.kind}", locale, **shown)
        fields = [
            Field(label=t("slo.field.objective", locale), value=shown["objective"]),
            Field(label=t("slo.field.period_end", locale), value=at.strftime("%Y-%m-%d %H:%M UTC")),
        ]
        if check.kind == "success_rate":
            fields.append(Field(label=t("slo.field.burn", locale), value=self._burn(at, locale)))
        return Reply(text=title, card=Card(title=title, fields=tuple(fields)))

    def _burn(self, at: datetime, locale: str) -> str:
        rows = (
            self._session.execute(
                select(SliSample).where(
                    SliSample.component_id == self._component,  # type: ignore[arg-type]
                    SliSample.period_end > at - timedelta(hours=6),  # type: ignore[arg-type]
                    SliSample.period_end <= at,  # type: ignore[arg-type]
                )
            )
            .scalars()
            .all()
        )
        rates = burn_rates(list(rows), self.objectives.success_rate, at)
        return t(
            "slo.burn",
            locale,
            one_hour=_times(rates.one_hour),
            six_hours=_times(rates.six_hours),
        )


def _figure(kind: str, value: float) -> str:
    if kind == "success_rate":
        return f"{value * 100:.2f}%"
    if kind == "latency_p95":
        return f"{value:.2f} s"
    return f"{value:,.2f}"


def _objective(kind: str, objectives: Objectives, locale: str) -> str:
    if kind == "success_rate":
        return f"≥ {objectives.success_rate * 100:g}%"
    if kind == "latency_p95":
        return f"p95 ≤ {objectives.latency_p95:g} s"
    budget = objectives.monthly_cost_budget or 0.0
    return t("slo.monthly_budget", locale, budget=f"{budget:,.2f}")


def _times(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1f}×"
