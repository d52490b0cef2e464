"""Reading incidents and the policy they run under (no side effects).

Names (component, team, responders, postmortem owner) come from the directory in force when
the caller has it (services/directory.py): a declaration used to spend four queries, inside
its write transaction, on names that are already in memory. Anything the directory does not
know (a person or component that has left the config since) is still read from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from launchops.config.models import Policy, SeverityPolicy, parse_duration
from launchops.domain.incidents import IncidentView, Unreached
from launchops.services.config_sync import latest_revision
from launchops.services.directory import ComponentInfo, Directory
from launchops.services.org import people_by_id
from launchops.store.models import (
    Component,
    Incident,
    IncidentResponder,
    Team,
)

CONFIDENTIAL = ("confidential", "pii")


def current_policy(session: Session) -> Policy:
    """The policy in force, or the built-in defaults before the first config sync."""
    latest = latest_revision(session)
    return Policy.model_validate(latest.policy) if latest else Policy()


def snapshot_policy(incident: Incident, level: str) -> SeverityPolicy:
    """The severity rules as they were when the incident was declared."""
    data = (incident.policy or {}).get("severities", {}).get(level)
    if data is None:
        return Policy().severities[level]  # type: ignore[index]
    return SeverityPolicy.model_validate(data)


def deadline(level_policy: SeverityPolicy, now: datetime) -> datetime | None:
    if level_policy.backlog or not level_policy.ack_within:
        return None
    return now + parse_duration(level_policy.ack_within)


def incident_view(
    session: Session,
    incident: Incident,
    *,
    extra_responders: list[str] | None = None,
    directory: Directory | None = None,
    responders: Sequence[tuple[str, str | None]] | None = None,
) -> IncidentView:
    """The incident with names instead of ids: what cards and the API show.

    `responders`, the (person, page error) rows in paging order, when the caller knows them
    without asking the store (a declaration that paged nobody knows there are none)."""
    assert incident.id is not None
    component = _component(session, incident.component_id, directory)
    team_name = _team_name(session, incident.team_id, directory)
    rows = responders
    if rows is None:
        rows = session.exec(
            select(IncidentResponder.person_id, IncidentResponder.page_error)
            .where(IncidentResponder.incident_id == incident.id)
            .order_by(col(IncidentResponder.step), col(IncidentResponder.paged_at))
        ).all()
    failed = {person: error for person, error in rows if error}
    responder_ids = [person for person, _ in rows]
    for extra in extra_responders or []:
        if extra not in responder_ids:
            responder_ids.append(extra)
    owner_id = incident.postmortem_owner
    names = _names(session, [*responder_ids, *([owner_id] if owner_id else [])], directory)
    return IncidentView(
        id=incident.id,
        severity=incident.severity,
        status=incident.status,
        title=incident.title,
        description=incident.description,
        meaning=_meaning(incident),
        component_id=incident.component_id,
        component_name=component.name if component else None,
        team_id=incident.team_id,
        team_name=team_name,
        source=incident.source,
        declared_by=incident.declared_by,
        declared_at=incident.declared_at,
        acknowledged_by=incident.acknowledged_by,
        acknowledged_at=incident.acknowledged_at,
        resolved_by=incident.resolved_by,
        resolved_at=incident.resolved_at,
        ack_deadline=incident.next_escalation_at,
        runbook=component.runbook if component else None,
        responders=tuple(names[p] for p in responder_ids if p in names and p not in failed),
        postmortem_owner=names.get(owner_id, owner_id) if owner_id else owner_id,
        confidential=bool(component and component.classification in CONFIDENTIAL),
        unreached=tuple(
            Unreached(names[p], *split_page_error(error))
            for p, error in failed.items()
            if p in names
        ),
    )


def _component(
    session: Session, component_id: str | None, directory: Directory | None
) -> Component | ComponentInfo | None:
    if component_id is None:
        return None
    if directory is not None and component_id in directory.components:
        return directory.components[component_id]
    return session.get(Component, component_id)


def _team_name(session: Session, team_id: str | None, directory: Directory | None) -> str | None:
    if team_id is None:
        return None
    if directory is not None and team_id in directory.teams:
        return directory.teams[team_id].name
    team = session.get(Team, team_id)
    return team.name if team else None


def _names(session: Session, ids: list[str], directory: Directory | None) -> dict[str, str]:
    """Person id → name for the ids that name a person."""
    known = directory.people if directory is not None else {}
    names = {p: known[p].name for p in ids if p in known}
    missing = [p for p in ids if p not in names]
    names.update((p, person.name) for p, person in people_by_id(session, missing).items())
    return names


def _meaning(incident: Incident) -> str:
    """The severity's meaning as the incident's snapshot has it; read straight from the JSON
    the snapshot was dumped to, validated only when it looks unlike that."""
    data = (incident.policy or {}).get("severities", {}).get(incident.severity)
    if isinstance(data, dict) and isinstance(data.get("meaning"), str):
        return str(data["meaning"])
    return snapshot_policy(incident, incident.severity).meaning


def page_error_value(reason: str, code: str) -> str:
    """How a refusal is kept on the responder: the reason, and the platform's code for
    reasons the catalogue cannot name."""
    return (f"{reason}:{code}" if reason == "other" and code else reason)[:64]


def split_page_error(value: str) -> tuple[str, str]:
    reason, _, code = value.partition(":")
    return reason, code
