"""The facts a gate's evidence is computed from: the organisation in memory and the incidents.

Kept apart from the gate service because the same facts are read in three places (a request,
an evidence change inside an incident's declaring transaction, `gate status`), always inside
the caller's session so an incident that is being declared is already counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from sqlmodel import Session, col, func, select

from launchops.config.models import deliverable_id, stage_deliverables
from launchops.domain.evidence import (
    Attestation,
    ComponentFacts,
    EvidenceItem,
    ProjectFacts,
    evidence,
)
from launchops.domain.gates import STAGES
from launchops.services.directory import ComponentInfo, Directory, ProjectInfo
from launchops.store.gate_models import GateAttestation
from launchops.store.models import Incident

__all__ = [
    "RECENT",
    "attestations",
    "dump_items",
    "gather",
    "load_items",
    "previous_stage",
    "project_facts",
]

RECENT: Final = timedelta(days=30)
MAJOR: Final = ("p0", "p1")


def _component_facts(info: ComponentInfo, directory: Directory) -> ComponentFacts:
    responsible = info.raci.get("R", ())
    return ComponentFacts(
        id=info.id,
        name=info.name,
        responsible=bool(responsible),
        accountable=bool(info.raci.get("A", ())),
        oncall=any(_has_owner(kind, party, directory) for kind, party in responsible),
        runbook=info.runbook,
        classification=info.classification,
    )


def _has_owner(kind: str, party: str, directory: Directory) -> bool:
    """A Responsible person owns incidents themselves; a team needs someone on call."""
    if kind == "person":
        return party in directory.people
    team = directory.teams.get(party)
    return bool(team and team.oncall)


def project_facts(
    session: Session, directory: Directory, project: ProjectInfo, now: datetime
) -> ProjectFacts:
    """The project's components as the directory has them (catalog order) and their P0/P1
    incidents: open now, and declared in the last 30 days."""
    wanted = set(project.components)
    parts = tuple(
        _component_facts(info, directory)
        for info in directory.components.values()
        if info.id in wanted
    )
    ids = [c.id for c in parts]
    if not ids:
        return ProjectFacts(components=parts)
    since = now - RECENT
    on_parts = col(Incident.component_id).in_(ids)
    open_major = session.exec(
        select(Incident.id)
        .where(on_parts, col(Incident.severity).in_(MAJOR), Incident.status != "resolved")
        .order_by(col(Incident.id))
    ).all()
    recent_major = session.exec(
        select(Incident.id)
        .where(on_parts, col(Incident.severity).in_(MAJOR), col(Incident.declared_at) >= since)
        .order_by(col(Incident.id))
    ).all()
    recent = session.exec(
        select(func.count())
        .select_from(Incident)
        .where(on_parts, col(Incident.declared_at) >= since)
    ).one()
    return ProjectFacts(
        components=parts,
        open_major=tuple(f"INC-{n}" for n in open_major),
        recent_major=tuple(f"INC-{n}" for n in recent_major),
        recent_incidents=int(recent),
    )


def attestations(session: Session, request_id: int | None) -> dict[str, Attestation]:
    if request_id is None:
        return {}
    rows = session.exec(select(GateAttestation).where(GateAttestation.request_id == request_id))
    return {row.key: Attestation(row.ok, row.by, row.value) for row in rows.all()}


def gather(
    session: Session,
    directory: Directory,
    project: ProjectInfo,
    stage: str,
    now: datetime,
    request_id: int | None = None,
) -> tuple[EvidenceItem, ...]:
    """The evidence for a gate into `stage`, with the deliverables of the stage it leaves."""
    facts = project_facts(session, directory, project, now)
    leaving = previous_stage(stage)
    names = stage_deliverables(directory.policy.roadmap, leaving) if leaving else ()
    ids = tuple(dict.fromkeys(deliverable_id(name) for name in names))
    return evidence(stage, facts, attestations(session, request_id), ids)


def previous_stage(stage: str) -> str | None:
    """The stage a gate into `stage` leaves (gates move one step at a time)."""
    position = STAGES.index(stage) if stage in STAGES else 0
    return STAGES[position - 1] if position > 0 else None


def dump_items(items: Iterable[EvidenceItem]) -> list[dict[str, Any]]:
    """The request's evidence snapshot, as JSON."""
    return [
        {"key": i.key, "kind": i.kind, "ok": i.ok, "detail": i.detail, "by": i.by} for i in items
    ]


def load_items(rows: Iterable[Mapping[str, Any]]) -> tuple[EvidenceItem, ...]:
    return tuple(
        EvidenceItem(r["key"], r["kind"], r.get("ok"), r.get("detail"), r.get("by")) for r in rows
    )
