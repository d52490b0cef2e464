"""Writing gate state: taking a request's row, closing it once, moving the project's stage.

Shared by the gate service and its sweep. Deciding and changing the evidence take the
request's row first with a no-op UPDATE (a row lock on PostgreSQL, the write lock on SQLite),
so concurrent clicks, retries and an incident declared mid-vote are judged one after the
other; closing is a compare-and-set on `status = 'open'`, so a pass is announced once.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import update
from sqlmodel import Session, col

from launchops.services import audit
from launchops.services.actors import Actor
from launchops.store.gate_models import GateRequest, ProjectStage
from launchops.store.models import Project

__all__ = ["close", "current_stage", "lock"]

log = structlog.get_logger(__name__)


def current_stage(session: Session, project_id: str) -> str:
    """Where the project stands: its `ProjectStage`, else (never synced since gates) the
    catalog's starting stage."""
    row = session.get(ProjectStage, project_id)
    if row is not None:
        return row.stage
    project = session.get(Project, project_id)
    return project.stage if project is not None else "explore"


def lock(session: Session, request_id: int) -> GateRequest:
    """Take the request's row for this transaction (see the module docstring) and read it
    fresh: whoever held it before has committed by now."""
    session.execute(
        update(GateRequest)
        .where(col(GateRequest.id) == request_id)
        .values(reminders_sent=GateRequest.reminders_sent)
        .execution_options(synchronize_session=False)
    )
    request = session.get(GateRequest, request_id, populate_existing=True)
    assert request is not None
    return request


def close(session: Session, request: GateRequest, state: str, actor: Actor, now: datetime) -> bool:
    """Close an open gate as `state`; a pass moves the project's stage. False when
    another transaction closed it first (nothing is done twice)."""
    result = session.execute(
        update(GateRequest)
        .where(col(GateRequest.id) == request.id, col(GateRequest.status) == "open")
        .values(status=state, decided_at=now, next_reminder_at=None)
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    if not getattr(result, "rowcount", 0):
        return False
    if state == "passed":
        session.execute(
            update(ProjectStage)
            .where(
                col(ProjectStage.project_id) == request.project_id,
                col(ProjectStage.stage) == request.from_stage,
            )
            .values(stage=request.to_stage, entered_at=now, changed_by=f"gate:{request.id}")
            .execution_options(synchronize_session=False)
        )
    audit.record(
        session,
        actor=actor.label,
        action=f"gate.{state}",
        subject=f"gate:{request.id}",
        project=request.project_id,
        from_stage=request.from_stage,
        to_stage=request.to_stage,
    )
    log.info("gate.closed", gate=request.id, state=state, project=request.project_id)
    return True
