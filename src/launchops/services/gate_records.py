"""Reading gates: a request's requirements, decisions and tally, as the view cards show.

No side effects: the gate service, its messenger and `gate status` all read through here, so
the same request always reads the same way whichever of them asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from launchops.domain.errors import BadCommand, Forbidden, NotFound
from launchops.domain.gates import (
    STAGES,
    Change,
    Decision,
    DecisionView,
    GateView,
    GroupView,
    Requirement,
    Tally,
    tally,
)
from launchops.services.actors import Actor
from launchops.services.directory import Directory, ProjectInfo
from launchops.services.gate_evidence import load_items
from launchops.store.gate_models import EvidenceChange, GateDecision, GateRequest
from launchops.text import collapse_spaces, normalize_key

__all__ = [
    "decisions_of",
    "find_project",
    "gate_view",
    "may_speak_for",
    "needs_of",
    "parse_stage",
    "requester",
    "tally_of",
]

# What people may type for a stage, beside its id: the English and Korean names.
_STAGE_WORDS = {
    "proof of concept": "poc",
    "prod": "production",
    "탐색": "explore",
    "파일럿": "pilot",
    "프로덕션": "production",
    "확산": "scale",
}


def parse_stage(text: str) -> str:
    word = collapse_spaces(text).casefold()
    stage = word if word in STAGES else _STAGE_WORDS.get(word)
    if stage is None:
        raise BadCommand("gate.error.unknown_stage", stage=text[:40])
    return stage


def find_project(directory: Directory, query: str) -> ProjectInfo:
    """A project by id or name, compared like component names (case, spaces, hyphens)."""
    wanted = normalize_key(query)
    for project in directory.projects.values():
        if wanted in (normalize_key(project.id), normalize_key(project.name)):
            return project
    known = ", ".join(p.id for p in directory.projects.values()) or "—"
    raise NotFound("gate.error.unknown_project", query=query[:80], projects=known)


def needs_of(request: GateRequest) -> tuple[Requirement, ...]:
    return tuple(
        Requirement(r["group"], tuple(r["members"]), int(r["needed"])) for r in request.requirements
    )


def decisions_of(session: Session, request_id: int) -> list[GateDecision]:
    return list(
        session.exec(
            select(GateDecision)
            .where(GateDecision.request_id == request_id)
            .order_by(col(GateDecision.at), col(GateDecision.id))
        ).all()
    )


def tally_of(request: GateRequest, decisions: Sequence[GateDecision]) -> Tally:
    return tally(
        needs_of(request),
        [
            Decision(
                d.person_id,
                "approve" if d.verdict == "approve" else "reject",
                d.evidence_version,
                d.at,
                d.reason,
            )
            for d in decisions
        ],
        evidence_version=request.evidence_version,
    )


def gate_view(
    session: Session,
    request: GateRequest,
    directory: Directory,
    *,
    decisions: Sequence[GateDecision] | None = None,
    now: datetime | None = None,
) -> GateView:
    assert request.id is not None
    rows = decisions if decisions is not None else decisions_of(session, request.id)
    result = tally_of(request, rows)

    def name(person_id: str) -> str:
        person = directory.people.get(person_id)
        return person.name if person else person_id

    project = directory.projects.get(request.project_id)
    groups = tuple(
        GroupView(
            need.group,
            need.needed,
            tuple(name(p) for p in result.approved.get(need.group, ())),
            tuple(name(p) for p in result.pending.get(need.group, ())),
        )
        for need in needs_of(request)
    )
    views = tuple(
        DecisionView(
            name(d.person_id),
            "approve" if d.verdict == "approve" else "reject",
            d.evidence_version,
            d.at,
            d.reason,
            d.evidence_version == request.evidence_version,
        )
        for d in rows
    )
    rejected = next((v for v in views if v.verdict == "reject"), None)
    changes = session.exec(
        select(EvidenceChange)
        .where(EvidenceChange.request_id == request.id)
        .order_by(col(EvidenceChange.version))
    ).all()
    status = request.status
    if status not in ("open", "passed", "rejected", "expired"):  # pragma: no cover - bad row
        status = "open"
    return GateView(
        id=request.id,
        project_id=request.project_id,
        project_name=project.name if project else request.project_id,
        from_stage=request.from_stage,
        to_stage=request.to_stage,
        status=status,  # type: ignore[arg-type]
        requested_by=name(request.requested_by),
        requested_at=request.requested_at,
        expires_at=request.expires_at,
        decided_at=request.decided_at,
        evidence=load_items(request.evidence),
        evidence_version=request.evidence_version,
        groups=groups,
        decisions=views,
        changes=tuple(Change(c.version, c.reason, c.at) for c in changes),
        rejected_by=rejected,
    )


def requester(directory: Directory, project: ProjectInfo, actor: Actor) -> str:
    """The person id of `actor` if they may request (and attest for) the project's gates:
    its owner, or the Accountable person (or a member of the Accountable team) of one of
    its components."""
    person = actor.viewer.person_id
    if person is not None and may_speak_for(directory, project, person):
        return person
    owner = directory.people.get(project.owner)
    raise Forbidden(
        "gate.error.not_requester",
        project=project.name,
        owner=owner.name if owner else project.owner,
    )


def may_speak_for(directory: Directory, project: ProjectInfo, person: str) -> bool:
    if person == project.owner:
        return True
    for component_id in project.components:
        component = directory.components.get(component_id)
        for kind, party in component.raci.get("A", ()) if component else ():
            if kind == "person" and party == person:
                return True
            team = directory.teams.get(party) if kind == "team" else None
            if team is not None and person in team.members:
                return True
    return False
