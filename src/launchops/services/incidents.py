"""Incidents: declare, page, acknowledge, escalate, change severity, resolve.

Every state change and the chat messages that report it are written in one transaction (the
messages as outbox rows), so a crash after the commit loses nothing and a crash before it
sends nothing. State changes are compare-and-set updates (`… WHERE status = 'open'`): a
double click, a retried request or a second replica finds the work already done.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from launchops.domain.errors import Forbidden, InvalidTransition
from launchops.domain.incidents import IncidentView, parse_level
from launchops.domain.paging import OrgSnapshot
from launchops.metrics import INCIDENTS_ACKNOWLEDGED, INCIDENTS_RESOLVED
from launchops.services import audit
from launchops.services.actors import Actor
from launchops.services.component_index import ComponentIndex
from launchops.services.escalation import Escalator
from launchops.services.incident_declaring import (
    MAJOR,
    Declared,
    IncidentDeclarations,
    MajorIncidentHook,
)
from launchops.services.incident_messages import IncidentMessenger
from launchops.services.incident_records import deadline, incident_view, snapshot_policy
from launchops.services.incident_state import (
    OPEN_STATES,
    after_commit,
    compare_and_set,
    unit_of_work,
)
from launchops.services.org import insiders, org_snapshot
from launchops.store.models import Incident, IncidentResponder
from launchops.store.types import utcnow

__all__ = ["OPEN_STATES", "Actor", "Declared", "IncidentService", "Outcome"]


@dataclass(frozen=True)
class Outcome:
    """What an action did, for the reply to the person who acted."""

    incident: IncidentView
    paged: tuple[str, ...] = ()


class IncidentService(IncidentDeclarations):
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

    def _unit(self) -> AbstractContextManager[Session]:
        # The wakeup is looked up per unit: set_wakeup may come after construction.
        return unit_of_work(self._engine, lambda: self._on_enqueue())

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
