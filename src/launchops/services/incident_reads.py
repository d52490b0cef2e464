"""Reading incidents: one, the open ones, a filtered list, the one an actor responds to.

A base of the incident service, apart so the use cases that change incidents stay short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.domain.errors import BadCommand, NotFound
from launchops.domain.incidents import IncidentView
from launchops.services.actors import Actor
from launchops.services.component_index import ComponentIndex
from launchops.services.incident_records import incident_view
from launchops.services.incident_state import OPEN_STATES
from launchops.services.ledger import changes_before, latest_deployments
from launchops.store import read_scope, session_scope
from launchops.store.models import Incident, IncidentResponder

__all__ = ["IncidentReads"]


class IncidentReads:
    _engine: Engine
    _index: ComponentIndex
    _clock: Callable[[], datetime]

    def get(self, incident_id: int) -> IncidentView:
        with session_scope(self._engine) as session:
            return incident_view(session, self._load(session, incident_id))

    def status_view(self, incident_id: int) -> IncidentView:
        """`incident status <id>`: the incident with its component's latest deployments and
        the changes in the hour before it was declared (two indexed reads, no write)."""
        with read_scope(self._engine) as session:
            view = incident_view(session, self._load(session, incident_id))
            if view.component_id is None:
                return view
            names = {view.component_id: view.component_name or view.component_id}
            now = self._clock()
            return replace(
                view,
                deployments=latest_deployments(session, names, view.component_id, now),
                changes_before=changes_before(session, names, view.component_id, view.declared_at),
            )

    def open_incidents(self, limit: int = 10) -> list[IncidentView]:
        with session_scope(self._engine) as session:
            rows = session.exec(
                select(Incident)
                .where(col(Incident.status).in_(OPEN_STATES))
                .order_by(col(Incident.id).desc())
                .limit(limit)
            ).all()
            return [incident_view(session, row) for row in rows]

    def find_for(self, actor: Actor) -> int:
        """The one open incident `actor` responds to, for `incident ack` without a number."""
        with session_scope(self._engine) as session:
            if actor.viewer.person_id is None:
                raise BadCommand("error.which_incident")
            ids = session.exec(
                select(Incident.id)
                .join(IncidentResponder, col(IncidentResponder.incident_id) == col(Incident.id))
                .where(
                    IncidentResponder.person_id == actor.viewer.person_id,
                    col(Incident.status).in_(OPEN_STATES),
                )
            ).all()
            if len(ids) != 1 or ids[0] is None:
                raise BadCommand("error.which_incident")
            return ids[0]

    def search(
        self,
        *,
        status: str | None = None,
        severity: str | None = None,
        component: str | None = None,
        limit: int = 500,
    ) -> list[IncidentView]:
        with session_scope(self._engine) as session:
            query = select(Incident)
            if status:
                query = query.where(Incident.status == status)
            if severity:
                query = query.where(Incident.severity == severity)
            if component:
                component_id = self._component(session, component)
                query = query.where(Incident.component_id == component_id)
            rows = session.exec(query.order_by(col(Incident.id).desc()).limit(limit)).all()
            return [incident_view(session, row) for row in rows]

    def open_by_fingerprint(self, fingerprint: str) -> int | None:
        with session_scope(self._engine) as session:
            found = self._existing(session, None, fingerprint)
            return found.id if found else None

    def _existing(
        self, session: Session, declare_key: str | None, fingerprint: str | None
    ) -> Incident | None:
        if declare_key:
            found = session.exec(select(Incident).where(Incident.declare_key == declare_key))
            if (incident := found.first()) is not None:
                return incident
        if fingerprint:
            return session.exec(
                select(Incident).where(
                    Incident.fingerprint == fingerprint, col(Incident.status).in_(OPEN_STATES)
                )
            ).first()
        return None

    def _component(self, session: Session, query: str | None) -> str | None:
        if not query:
            return None
        component_id = self._index.exact(session, query)
        if component_id is None:
            suggestions = self._index.suggest(session, query)
            raise NotFound(
                "error.unknown_component",
                query=query,
                suggestions=[(s.component_id, s.name) for s in suggestions],
            )
        return component_id

    def _load(self, session: Session, incident_id: int) -> Incident:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("error.incident_not_found", ref=f"INC-{incident_id}")
        return incident
