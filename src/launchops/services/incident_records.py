"""Reading incidents and the policy they run under (no side effects)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from launchops.config.models import Policy, SeverityPolicy, parse_duration
from launchops.domain.incidents import IncidentView, Unreached
from launchops.services.config_sync import latest_revision
from launchops.services.org import people_by_id
from launchops.store.models import (
    Component,
    Incident,
    IncidentResponder,
    Person,
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
    session: Session, incident: Incident, *, extra_responders: list[str] | None = None
) -> IncidentView:
    """The incident with names instead of ids: what cards and the API show."""
    assert incident.id is not None
    component = session.get(Component, incident.component_id) if incident.component_id else None
    team = session.get(Team, incident.team_id) if incident.team_id else None
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
    names = people_by_id(session, responder_ids)
    owner = session.get(Person, incident.postmortem_owner) if incident.postmortem_owner else None
    meaning = snapshot_policy(incident, incident.severity).meaning
    return IncidentView(
        id=incident.id,
        severity=incident.severity,
        status=incident.status,
        title=incident.title,
        description=incident.description,
        meaning=meaning,
        component_id=incident.component_id,
        component_name=component.name if component else None,
        team_id=incident.team_id,
        team_name=team.name if team else None,
        source=incident.source,
        declared_by=incident.declared_by,
        declared_at=incident.declared_at,
        acknowledged_by=incident.acknowledged_by,
        acknowledged_at=incident.acknowledged_at,
        resolved_by=incident.resolved_by,
        resolved_at=incident.resolved_at,
        ack_deadline=incident.next_escalation_at,
        runbook=component.runbook if component else None,
        responders=tuple(names[p].name for p in responder_ids if p in names and p not in failed),
        postmortem_owner=owner.name if owner else incident.postmortem_owner,
        confidential=bool(component and component.classification in CONFIDENTIAL),
        unreached=tuple(
            Unreached(names[p].name, *split_page_error(error))
            for p, error in failed.items()
            if p in names
        ),
    )


def page_error_value(reason: str, code: str) -> str:
    """How a refusal is kept on the responder: the reason, and the platform's code for
    reasons the catalogue cannot name."""
    return (f"{reason}:{code}" if reason == "other" and code else reason)[:64]


def split_page_error(value: str) -> tuple[str, str]:
    reason, _, code = value.partition(":")
    return reason, code
