"""The audit log: who did what to which thing, appended in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy import insert as _insert
from sqlmodel import Session

from launchops.store.models import AuditEntry
from launchops.store.types import utcnow

# SQLModel does not declare `__table__` to type checkers, though every table model has one.
_AUDIT: Table = AuditEntry.__table__  # type: ignore[attr-defined]
_INSERT = _insert(_AUDIT)  # built once: its cache key is then computed once, not per call


def record(session: Session, *, actor: str, action: str, subject: str, **detail: Any) -> None:
    session.add(AuditEntry(actor=actor, action=action, subject=subject, detail=detail))


def insert(session: Session, *, actor: str, action: str, subject: str, **detail: Any) -> None:
    """`record`, as one plain INSERT executed now rather than at the session's next flush:
    no object for the unit of work to track, for paths that count every call inside the
    write lock (a declaration)."""
    session.connection().execute(
        _INSERT,
        {"at": utcnow(), "actor": actor, "action": action, "subject": subject, "detail": detail},
    )
