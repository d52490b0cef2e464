"""Remarks on an open gate request. They live in the audit log (`gate.commented`, subject
`gate:<id>`) rather than a table of their own: a comment decides nothing, and the audit log
already keeps who said what and when."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.domain.errors import BadCommand, InvalidTransition, NotFound
from launchops.domain.gates import GateView
from launchops.domain.masking import mask
from launchops.services import audit
from launchops.services.actors import Actor
from launchops.services.directory import DirectoryCache
from launchops.services.gate_records import gate_view
from launchops.services.gate_rules import commenter
from launchops.store import read_scope
from launchops.store.gate_models import GateRequest
from launchops.store.models import AuditEntry

__all__ = ["MAX_COMMENT_CHARS", "Commented", "GateComments"]

MAX_COMMENT_CHARS = 2000


@dataclass(frozen=True)
class Commented:
    gate: GateView
    text: str  # as recorded: masked
    recorded: bool  # False: the same request (a retry) was recorded before


class GateComments:
    def __init__(
        self,
        engine: Engine,
        *,
        directory: DirectoryCache,
        unit: Callable[[], AbstractContextManager[Session]],
    ) -> None:
        self._engine = engine
        self._directory = directory
        self._unit = unit

    def comment(
        self, request_id: int, actor: Actor, text: str, *, request_key: str | None = None
    ) -> Commented:
        """A remark on an open request by its requester, the project's owner or one of its
        approvers: masked, at most MAX_COMMENT_CHARS. A retried request (same
        `request_key`) records nothing twice."""
        text = text.strip()
        if not text:
            raise BadCommand("gate.error.comment_required", id=request_id)
        if len(text) > MAX_COMMENT_CHARS:
            raise BadCommand(
                "gate.error.comment_too_long", limit=MAX_COMMENT_CHARS, length=len(text)
            )
        text = mask(text)
        ref = {"ref": f"#{request_id}"}
        with self._unit() as session:
            directory = self._directory.get(session)
            request = session.get(GateRequest, request_id)
            if request is None:
                raise NotFound("gate.error.not_found", **ref)
            person = commenter(request, actor, directory)
            subject = f"gate:{request_id}"
            if request_key and any(
                entry.detail.get("key") == request_key for entry in _comments(session, subject)
            ):
                return Commented(gate_view(session, request, directory), text, recorded=False)
            if request.status != "open":
                raise InvalidTransition("gate.error.closed", status=request.status, **ref)
            audit.record(
                session,
                actor=actor.label,
                action="gate.commented",
                subject=subject,
                person=person,
                text=text,
                key=request_key,
            )
            return Commented(gate_view(session, request, directory), text, recorded=True)

    def latest(self, request_id: int, limit: int = 5) -> list[tuple[str, str]]:
        """The latest comments on a request, oldest first, as (who, text)."""
        with read_scope(self._engine) as session:
            rows = _comments(session, f"gate:{request_id}")[-limit:]
            return [(r.actor, str(r.detail.get("text", ""))) for r in rows]


def _comments(session: Session, subject: str) -> list[AuditEntry]:
    return list(
        session.exec(
            select(AuditEntry)
            .where(AuditEntry.subject == subject, AuditEntry.action == "gate.commented")
            .order_by(col(AuditEntry.id))
        ).all()
    )
