"""Incidents: declare, page, acknowledge, escalate, change severity, resolve.

Every state change and the chat messages that report it are written in one transaction (the
messages as outbox rows), so a crash after the commit loses nothing and a crash before it
sends nothing. State changes are compare-and-set updates (`… WHERE status = 'open'`): a
double click, a retried request or a second replica finds the work already done.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from launchops.domain.errors import BadCommand, Forbidden, InvalidTransition
from launchops.domain.incidents import MAX_DESCRIPTION_CHARS, IncidentView, check_title, parse_level
from launchops.domain.paging import OrgSnapshot
from launchops.messages.gate_views import incident_reason
from launchops.metrics import INCIDENTS_ACKNOWLEDGED, INCIDENTS_DECLARED, INCIDENTS_RESOLVED
from launchops.services import audit
from launchops.services.actors import Actor
from launchops.services.component_index import ComponentIndex
from launchops.services.directory import Directory
from launchops.services.escalation import Escalator
from launchops.services.incident_messages import IncidentMessenger
from launchops.services.incident_reads import IncidentReads
from launchops.services.incident_records import deadline, incident_view, snapshot_policy
from launchops.services.incident_state import (
    OPEN_STATES,
    after_commit,
    compare_and_set,
    unit_of_work,
)
from launchops.services.org import insiders, org_snapshot, responsible_team
from launchops.store import session_scope
from launchops.store.models import Incident, IncidentResponder
from launchops.store.types import utcnow

__all__ = ["OPEN_STATES", "Actor", "Declared", "IncidentService", "Outcome"]

log = structlog.get_logger(__name__)

MAJOR = ("p0", "p1")  # the severities that count as evidence against an open gate
MajorIncidentHook = Callable[[Session, str, str], object]  # (session, component id, reason)


@dataclass(frozen=True)
class Declared:
    incident: IncidentView
    created: bool
    paged: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    unreachable: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What an action did, for the reply to the person who acted."""

    incident: IncidentView
    paged: tuple[str, ...] = ()


class IncidentService(IncidentReads):
    def __init__(
        self,
        engine: Engine,
        *,
        platforms: tuple[str, ...],
        index: ComponentIndex | None = None,
        default_locale: str = "en",
        clock: Callable[[], datetime] = utcnow,
        on_enqueue: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._platforms = platforms
        self._index = index or ComponentIndex()
        # The organisation and policy in force, in memory (services/directory.py): a
        # declaration reads neither from the store.
        self._directory = self._index.directory
        self._locale = default_locale
        self._clock = clock
        self._on_enqueue = on_enqueue or (lambda: None)
        self._on_major: MajorIncidentHook | None = None
        self._messages = IncidentMessenger(platforms=platforms, locale=default_locale, clock=clock)
        self._escalator = Escalator(engine, self._messages, clock=clock, unit=self._unit)

    def set_wakeup(self, on_enqueue: Callable[[], None]) -> None:
        self._on_enqueue = on_enqueue

    def set_major_incident_hook(self, hook: MajorIncidentHook) -> None:
        """Told of each P0/P1 on a component inside its transaction (the gates' evidence)."""
        self._on_major = hook

    def _tell_major(self, session: Session, incident: Incident, directory: Directory) -> None:
        """A P0/P1 on a component is new evidence for the open gates of its projects, taking
        effect at this transaction's commit (DESIGN §4), so it is told here, not after."""
        if self._on_major is None or incident.component_id is None:
            return
        component = directory.components.get(incident.component_id)
        name = component.name if component else incident.component_id
        ref = f"INC-{incident.id}"
        reason = incident_reason(incident.severity, ref, name, incident.title, self._locale)
        self._on_major(session, incident.component_id, reason)

    def _unit(self) -> AbstractContextManager[Session]:
        # The wakeup is looked up per unit: set_wakeup may come after construction.
        return unit_of_work(self._engine, lambda: self._on_enqueue())

    # declaring ---------------------------------------------------------------------------
    def declare(
        self,
        *,
        level: str,
        title: str,
        actor: Actor,
        component_query: str | None = None,
        team_id: str | None = None,
        description: str | None = None,
        source: str = "chat",
        declare_key: str | None = None,
        fingerprint: str | None = None,
        origin: dict[str, Any] | None = None,
    ) -> Declared:
        severity = parse_level(level)
        title = check_title(title)
        if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
            raise BadCommand(
                "error.description_too_long", limit=MAX_DESCRIPTION_CHARS, length=len(description)
            )
        try:
            with self._unit() as session:
                directory = self._directory.get(session)
                existing = self._existing(session, declare_key, fingerprint)
                if existing is not None:
                    return Declared(incident_view(session, existing, directory=directory), False)
                component_id = self._component(session, component_query)
                if component_id is None and team_id is None:
                    raise BadCommand("error.incident_needs_component", level=severity, title=title)
                return self._declare(
                    session,
                    directory,
                    severity=severity,
                    title=title,
                    actor=actor,
                    component_id=component_id,
                    team_id=team_id,
                    description=description,
                    source=source,
                    declare_key=declare_key,
                    fingerprint=fingerprint,
                    origin=origin or {},
                )
        except IntegrityError:
            # A concurrent twin (same declare key or alert fingerprint) committed first.
            with session_scope(self._engine) as session:
                existing = self._existing(session, declare_key, fingerprint)
                if existing is None:
                    raise
                view = incident_view(session, existing, directory=self._directory.get(session))
                return Declared(view, created=False)

    def _declare(
        self,
        session: Session,
        directory: Directory,
        *,
        severity: str,
        title: str,
        actor: Actor,
        component_id: str | None,
        team_id: str | None,
        description: str | None,
        source: str,
        declare_key: str | None,
        fingerprint: str | None,
        origin: dict[str, Any],
    ) -> Declared:
        policy = directory.policy
        level_policy = policy.severities[severity]  # type: ignore[index]
        snapshot = org_snapshot(
            session, component_id=component_id, team_id=team_id, directory=directory
        )
        now = self._clock()
        incident = Incident(
            severity=severity,
            title=title,
            description=description,
            component_id=component_id,
            team_id=responsible_team(snapshot) or team_id,
            source=source,
            declared_by=actor.label,
            declared_at=now,
            declare_key=declare_key,
            fingerprint=fingerprint,
            origin=origin,
            policy=json.loads(directory.severities_json),  # the rules it escalates by
            next_escalation_at=deadline(level_policy, now),
        )
        incident.previous_incident_id = self._previous(session, fingerprint)
        session.add(incident)
        session.flush()
        if severity in MAJOR:
            self._tell_major(session, incident, directory)
        paged, unreachable, channels = self._messages.page_level(
            session, incident, level_policy, policy, snapshot, actor
        )
        if not paged and incident.next_escalation_at is not None:
            # Nobody could be paged: waiting out the deadline would only lose time.
            incident.next_escalation_at = now
        after_commit(session, INCIDENTS_DECLARED.labels(severity).inc)
        audit.record(
            session,
            actor=actor.label,
            action="incident.declared",
            subject=f"incident:{incident.id}",
            severity=severity,
            source=source,
            component=component_id,
            paged=paged,
            unreachable=unreachable,
        )
        # Logged once committed: a line for a declaration that rolled back would mislead, and
        # on SQLite this transaction holds the write lock every other declaration waits for.
        after_commit(
            session,
            lambda: log.info(
                "incident.declared",
                incident=incident.id,
                severity=severity,
                paged=len(paged),
                unreachable=len(unreachable),
            ),
        )
        # The incident is new, so its responders are the people `page_level` just paged or
        # found unreachable (one row each): with neither, the view needs no query for them.
        none_paged = not paged and not unreachable
        return Declared(
            incident_view(
                session, incident, directory=directory, responders=() if none_paged else None
            ),
            True,
            tuple(paged),
            tuple(channels),
            tuple(unreachable),
        )

    def _previous(self, session: Session, fingerprint: str | None) -> int | None:
        if not fingerprint:
            return None
        return session.exec(
            select(Incident.id)
            .where(Incident.fingerprint == fingerprint, Incident.status == "resolved")
            .order_by(col(Incident.id).desc())
        ).first()

    # acting on an incident ---------------------------------------------------------------
    def acknowledge(self, incident_id: int, actor: Actor) -> Outcome:
        with self._unit() as session:
            incident = self._load(session, incident_id)
            self._authorize(session, incident, actor)
            now = self._clock()
            claimed = compare_and_set(
                session,
                incident,
                ("open",),
                status="acknowledged",
                acknowledged_at=now,
                acknowledged_by=actor.label,
                next_escalation_at=None,
            )
            if not claimed:
                self._refuse(session, incident)
            after_commit(session, INCIDENTS_ACKNOWLEDGED.labels(incident.severity).inc)
            audit.record(
                session,
                actor=actor.label,
                action="incident.acknowledged",
                subject=f"incident:{incident_id}",
                seconds_to_ack=(now - incident.declared_at).total_seconds(),
            )
            self._messages.broadcast(
                session, incident, "incident.note.acknowledged", person=actor.label
            )
            return Outcome(self._view(session, incident))

    def resolve(self, incident_id: int, actor: Actor, *, note_key: str | None = None) -> Outcome:
        with self._unit() as session:
            incident = self._load(session, incident_id)
            if not actor.system:
                self._authorize(session, incident, actor)
            now = self._clock()
            if not compare_and_set(
                session,
                incident,
                OPEN_STATES,
                status="resolved",
                resolved_at=now,
                resolved_by=actor.label,
                next_escalation_at=None,
            ):
                self._refuse(session, incident)
            after_commit(session, INCIDENTS_RESOLVED.labels(incident.severity).inc)
            audit.record(
                session,
                actor=actor.label,
                action="incident.resolved",
                subject=f"incident:{incident_id}",
                seconds_to_resolve=(now - incident.declared_at).total_seconds(),
            )
            self._messages.broadcast(
                session, incident, note_key or "incident.note.resolved", person=actor.label
            )
            return Outcome(self._view(session, incident))

    def escalate(self, incident_id: int, actor: Actor) -> Outcome:
        """Page the next escalation step now, by hand."""
        with self._unit() as session:
            incident = self._load(session, incident_id)
            self._authorize(session, incident, actor)
            if incident.status == "resolved":
                self._refuse(session, incident)
            paged = self._escalator.step(session, incident, actor=actor)
            if paged is None:
                return Outcome(self._view(session, incident))
            return Outcome(self._view(session, incident), tuple(paged))

    def change_severity(self, incident_id: int, level: str, actor: Actor) -> Outcome:
        new = parse_level(level)
        with self._unit() as session:
            incident = self._load(session, incident_id)
            self._authorize(session, incident, actor)
            if incident.status == "resolved":
                self._refuse(session, incident)
            old = incident.severity
            if new == old:
                return Outcome(self._view(session, incident))
            level_policy = snapshot_policy(incident, new)
            now = self._clock()
            due = deadline(level_policy, now) if incident.status == "open" else None
            if not compare_and_set(
                session,
                incident,
                OPEN_STATES,
                severity=new,
                escalation_step=0,
                next_escalation_at=due,
            ):
                self._refuse(session, incident)
            directory = self._directory.get(session)
            if new in MAJOR and old not in MAJOR:
                self._tell_major(session, incident, directory)
            snapshot = org_snapshot(
                session,
                component_id=incident.component_id,
                team_id=incident.team_id,
                directory=directory,
            )
            paged, unreachable, _ = self._messages.page_level(
                session, incident, level_policy, directory.policy, snapshot, actor
            )
            audit.record(
                session,
                actor=actor.label,
                action="incident.severity_changed",
                subject=f"incident:{incident_id}",
                old=old,
                new=new,
                paged=paged,
                unreachable=unreachable,
            )
            self._messages.broadcast(
                session,
                incident,
                "incident.note.severity",
                old=old.upper(),
                new=new.upper(),
                person=actor.label,
            )
            return Outcome(self._view(session, incident), tuple(paged))

    def take_postmortem(self, incident_id: int, actor: Actor) -> Outcome:
        with self._unit() as session:
            incident = self._load(session, incident_id)
            self._authorize(session, incident, actor)
            if not compare_and_set(
                session,
                incident,
                (*OPEN_STATES, "resolved"),
                postmortem_owner=actor.viewer.person_id or actor.label,
            ):
                self._refuse(session, incident)
            audit.record(
                session,
                actor=actor.label,
                action="incident.postmortem_owner",
                subject=f"incident:{incident_id}",
            )
            self._messages.broadcast(
                session, incident, "incident.note.postmortem", person=actor.label
            )
            return Outcome(self._view(session, incident))

    # escalation --------------------------------------------------------------------------
    def escalate_due(self) -> int:
        """The scheduler's sweep (every second): see services/escalation.py."""
        return self._escalator.escalate_due()

    def page_failed(self, outbox_id: int, error: str) -> None:
        """The dispatcher's `on_dead` hook: a page refused for good is noted and escalated."""
        self._escalator.page_failed(outbox_id, error)

    # helpers -----------------------------------------------------------------------------
    def _authorize(self, session: Session, incident: Incident, actor: Actor) -> None:
        """Responders, the Responsible team and the Accountable people may act."""
        person = actor.viewer.person_id
        if actor.system:
            return
        if person is not None:
            responder = session.get(IncidentResponder, (incident.id, person))
            snapshot: OrgSnapshot = org_snapshot(
                session,
                component_id=incident.component_id,
                team_id=incident.team_id,
                directory=self._directory.get(session),
            )
            if responder is not None or person in insiders(snapshot):
                return
        raise Forbidden("error.not_a_responder", ref=f"INC-{incident.id}")

    def _view(self, session: Session, incident: Incident) -> IncidentView:
        return incident_view(session, incident, directory=self._directory.get(session))

    def _refuse(self, session: Session, incident: Incident) -> None:
        session.refresh(incident)
        ref = f"INC-{incident.id}"
        if incident.status == "resolved":
            raise InvalidTransition("error.incident_already_resolved", ref=ref)
        raise InvalidTransition(
            "error.incident_already_acknowledged", ref=ref, person=incident.acknowledged_by or "?"
        )
