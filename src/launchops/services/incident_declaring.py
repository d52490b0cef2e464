"""Declaring an incident: one short transaction, with the write lock held only to write.

Everything a declaration needs to know (the directory, a twin declared before, the
component, the previous incident of its alert, the row itself) is read or built before its
first write; the incident and its audit line are then plain INSERTs, its pages and cards
outbox rows, and the commit follows. On SQLite that span is what every other declaration
queues for (store/db.py), so the confirmation's view is built after the commit, outside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Table, insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from launchops.domain.errors import BadCommand
from launchops.domain.incidents import MAX_DESCRIPTION_CHARS, IncidentView, check_title, parse_level
from launchops.domain.ledger import DeploymentLine
from launchops.messages.gate_views import incident_reason
from launchops.metrics import INCIDENTS_DECLARED
from launchops.services import audit
from launchops.services.actors import Actor
from launchops.services.directory import Directory, DirectoryCache
from launchops.services.incident_messages import IncidentMessenger
from launchops.services.incident_reads import IncidentReads
from launchops.services.incident_records import deadline, incident_view
from launchops.services.incident_state import after_commit
from launchops.services.ledger import read_before_write
from launchops.services.org import org_snapshot, responsible_team
from launchops.store import read_scope, session_scope
from launchops.store.models import Incident
from launchops.store.rows import loaded, with_defaults

log = structlog.get_logger(__name__)

MAJOR = ("p0", "p1")  # the severities that count as evidence against an open gate
MajorIncidentHook = Callable[[Session, str, str], object]  # (session, component id, reason)

# SQLModel does not declare `__table__` to type checkers, though every table model has one.
_INCIDENTS: Table = Incident.__table__  # type: ignore[attr-defined]
# Built once: a statement's cache key is computed once per object, and building and keying a
# fresh one per declaration cost as much as executing it.
_INSERT_INCIDENT = insert(_INCIDENTS).returning(_INCIDENTS.c.id)


@dataclass(frozen=True)
class Declared:
    incident: IncidentView
    created: bool
    paged: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    unreachable: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Written:
    """A new declaration as its transaction left it: the view is built from it after."""

    incident: Incident
    directory: Directory
    paged: tuple[str, ...]
    channels: tuple[str, ...]
    unreachable: tuple[str, ...]
    deployments: tuple[DeploymentLine, ...] = ()


def insert_incident(session: Session, values: dict[str, Any]) -> Incident:
    """INSERT the row (`values`: every column but the id) as a plain statement, not through
    the unit of work's flush, and return it tracked by the session as if it had loaded it:
    later changes are UPDATEs."""
    new_id = int(session.connection().execute(_INSERT_INCIDENT, values).scalar_one())
    return loaded(session, Incident, {**values, "id": new_id})


class IncidentDeclarations(IncidentReads):
    """The declaring half of the incident service (services/incidents.py)."""

    _engine: Engine
    _directory: DirectoryCache
    _locale: str
    _clock: Callable[[], datetime]
    _messages: IncidentMessenger
    _on_major: MajorIncidentHook | None

    def _unit(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

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
                # A retried request's key is found by the database, not by a query of ours
                # before every declaration: the unique key refuses its INSERT, the unit rolls
                # back, and the twin is read below. An alert's fingerprint is looked up.
                existing = self._existing(session, None, fingerprint) if fingerprint else None
                if existing is not None:
                    return Declared(incident_view(session, existing, directory=directory), False)
                component_id = self._component(session, component_query)
                if component_id is None and team_id is None:
                    raise BadCommand("error.incident_needs_component", level=severity, title=title)
                written = self._declare(
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
        return self._confirmation(written)

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
    ) -> _Written:
        policy = directory.policy
        level_policy = policy.severities[severity]  # type: ignore[index]
        snapshot = org_snapshot(
            session, component_id=component_id, team_id=team_id, directory=directory
        )
        now = self._clock()
        values = with_defaults(
            Incident,
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
            previous_incident_id=self._previous(session, fingerprint),
        )
        # The component's latest deployments, for its cards' Roll back: read before the
        # first write (one indexed query), so nobody waits on it.
        component = directory.components.get(component_id) if component_id else None
        deployments = read_before_write(
            session, component_id, component.name if component else None, now
        )
        # The first write: from here to the commit, other declarations wait (on SQLite).
        incident = insert_incident(session, values)
        if severity in MAJOR:
            self._tell_major(session, incident, directory)
        paged, unreachable, channels = self._messages.page_level(
            session, incident, level_policy, policy, snapshot, actor
        )
        if not paged and incident.next_escalation_at is not None:
            # Nobody could be paged: waiting out the deadline would only lose time.
            incident.next_escalation_at = now
        audit.insert(
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
        after_commit(session, INCIDENTS_DECLARED.labels(severity).inc)
        # Logged once committed: a line for a declaration that rolled back would mislead.
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
        return _Written(
            incident, directory, tuple(paged), tuple(channels), tuple(unreachable), deployments
        )

    def _confirmation(self, written: _Written) -> Declared:
        """The committed declaration as the person who declared it sees it. A new incident's
        responders are the people it just paged or found unreachable: with neither, the view
        needs no query (and, with the directory, no connection) at all."""
        none_paged = not written.paged and not written.unreachable
        with read_scope(self._engine) as session:
            view = incident_view(
                session,
                written.incident,
                directory=written.directory,
                responders=() if none_paged else None,
            )
        if written.deployments:
            view = replace(view, deployments=written.deployments)
        return Declared(view, True, written.paged, written.channels, written.unreachable)

    def _previous(self, session: Session, fingerprint: str | None) -> int | None:
        if not fingerprint:
            return None
        return session.exec(
            select(Incident.id)
            .where(Incident.fingerprint == fingerprint, Incident.status == "resolved")
            .order_by(col(Incident.id).desc())
        ).first()

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
