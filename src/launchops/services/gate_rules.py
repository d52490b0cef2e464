"""Who may do what to a gate, and which step a request may ask for: the refusals shared by
requesting, deciding, commenting and the read-only `check` a platform runs before it opens
a form (so nobody types a reason in vain)."""

from __future__ import annotations

from sqlmodel import Session, select

from launchops.domain.errors import BadCommand, Forbidden, InvalidTransition
from launchops.domain.gates import next_stage
from launchops.services.actors import Actor
from launchops.services.directory import Directory, ProjectInfo
from launchops.services.gate_records import needs_of
from launchops.store.gate_models import GateRequest

__all__ = ["check_step", "commenter", "decider", "refuse_if_open"]


def check_step(project: ProjectInfo, current: str, target: str) -> None:
    wanted = next_stage(current)
    names = {"project": project.name}
    if target == current:
        raise InvalidTransition("gate.error.already_there", stage=current, **names)
    if wanted is None:
        raise InvalidTransition("gate.error.last_stage", stage=current, **names)
    if target != wanted:
        raise InvalidTransition(
            "gate.error.skip", current=current, next=wanted, stage=target, **names
        )


def refuse_if_open(session: Session, project: ProjectInfo) -> None:
    existing = session.exec(
        select(GateRequest).where(
            GateRequest.project_id == project.id, GateRequest.status == "open"
        )
    ).first()
    if existing is not None:
        raise InvalidTransition(
            "gate.error.already_open",
            project=project.name,
            ref=f"#{existing.id}",
            stage=existing.to_stage,
        )


def decider(request: GateRequest, actor: Actor, evidence_version: int | None) -> str:
    """The person id of `actor` if they may decide `request` from a message of
    `evidence_version`; else the refusal."""
    ref = {"ref": f"#{request.id}"}
    person = actor.viewer.person_id
    needs = needs_of(request)
    if person is None or not any(person in n.members for n in needs):
        raise Forbidden("gate.error.not_approver", groups=", ".join(n.group for n in needs), **ref)
    if evidence_version is not None and not 1 <= evidence_version <= request.evidence_version:
        raise BadCommand(
            "gate.error.bad_version",
            given=evidence_version,
            current=request.evidence_version,
            **ref,
        )
    return person


def commenter(request: GateRequest, actor: Actor, directory: Directory) -> str:
    """The person id of `actor` if they may comment on `request`: its requester, the
    project's owner or one of its approvers."""
    project = directory.projects.get(request.project_id)
    person = actor.viewer.person_id
    allowed = {request.requested_by, project.owner if project else None}
    allowed |= {m for n in needs_of(request) for m in n.members}
    if person is None or person not in allowed:
        raise Forbidden("gate.error.not_commenter", ref=f"#{request.id}")
    return person
