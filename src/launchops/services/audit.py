"""The audit log: who did what to which thing, appended in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from launchops.store.models import AuditEntry


def record(session: Session, *, actor: str, action: str, subject: str, **detail: Any) -> None:
    session.add(AuditEntry(actor=actor, action=action, subject=subject, detail=detail))
