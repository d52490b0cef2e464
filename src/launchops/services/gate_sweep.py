"""Reminders and expiry of open gates: the scheduler's once-a-second sweep.

Exactly once across replicas and restarts: the deadlines live on the request
(`next_reminder_at`, `expires_at`), each candidate is taken in its own transaction (SKIP
LOCKED on PostgreSQL), and each step is a compare-and-set (`reminders_sent = n`,
`status = 'open'`), so two replicas sweeping together remind once and expire once; a bot that
was down sends one reminder for the time it missed, not a burst (domain/gates.py).

When a new config revision is in force (synced here, by `launchops config sync` or by another
replica; and once after a start), open gates are rechecked first: a checked item that turned
❌ is an evidence change (services/gate_changes.py `recheck`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.config.models import parse_duration
from launchops.domain.gates import reminders_due
from launchops.messages import gate_views as cards
from launchops.services import audit
from launchops.services.actors import Actor
from launchops.services.directory import Directory, DirectoryCache
from launchops.services.gate_changes import EvidenceKeeper
from launchops.services.gate_messages import GateMessenger
from launchops.services.gate_records import decisions_of, gate_view, tally_of
from launchops.services.gate_state import close
from launchops.store import read_scope
from launchops.store.gate_models import GateRequest

__all__ = ["SWEEP_BATCH", "GateSweeper"]

log = structlog.get_logger(__name__)

SWEEP_BATCH = 50
_SCHEDULER = Actor.system_actor("scheduler")


class GateSweeper:
    def __init__(
        self,
        engine: Engine,
        messages: GateMessenger,
        *,
        directory: DirectoryCache,
        clock: Callable[[], datetime],
        unit: Callable[[], AbstractContextManager[Session]],
    ) -> None:
        self._engine = engine
        self._messages = messages
        self._directory = directory
        self._clock = clock
        self._unit = unit
        self._lock_rows = engine.dialect.name == "postgresql"
        self._changes = EvidenceKeeper(messages, directory=directory, clock=clock, unit=unit)
        self._checked_revision: int | bool | None = False  # False: not checked yet

    def sweep(self) -> int:
        """Recheck after a new config revision, then expire and remind what is due;
        returns how many gates were acted on."""
        done = self._recheck_after_sync()
        now = self._clock()
        with read_scope(self._engine) as session:
            due = session.exec(
                select(GateRequest.id)
                .where(
                    GateRequest.status == "open",
                    or_(
                        col(GateRequest.expires_at) <= now,
                        col(GateRequest.next_reminder_at) <= now,
                    ),
                )
                .order_by(col(GateRequest.id))
                .limit(SWEEP_BATCH)
            ).all()
        for request_id in due:
            try:
                with self._unit() as session:
                    query = select(GateRequest).where(
                        GateRequest.id == request_id, GateRequest.status == "open"
                    )
                    if self._lock_rows:
                        query = query.with_for_update(skip_locked=True)
                    request = session.exec(query).first()
                    if request is None:
                        continue
                    directory = self._directory.get(session)
                    if request.expires_at <= now:
                        done += self._expire(session, directory, request, now)
                    elif request.next_reminder_at is not None and request.next_reminder_at <= now:
                        done += self._remind(session, directory, request, now)
            except Exception:
                log.exception("gate.sweep_failed", gate=request_id)
        return done

    def _recheck_after_sync(self) -> int:
        revision = self._directory.get().revision
        if revision == self._checked_revision:
            return 0
        try:
            changed = self._changes.recheck()
        except Exception:
            log.exception("gate.recheck_failed", revision=revision)
            return 0  # tried again at the next sweep
        self._checked_revision = revision
        return len(changed)

    def _expire(
        self, session: Session, directory: Directory, request: GateRequest, now: datetime
    ) -> int:
        if not close(session, request, "expired", _SCHEDULER, now):
            return 0
        view = gate_view(session, request, directory)
        self._messages.refresh(session, view)
        project = directory.projects.get(request.project_id)
        if project is not None:
            self._messages.announce(session, directory, view, project)
        return 1

    def _remind(
        self, session: Session, directory: Directory, request: GateRequest, now: datetime
    ) -> int:
        """The newest reminder owed, to everyone who may still decide for a group short of
        its quota (approvers on older evidence included)."""
        assert request.id is not None
        every = parse_duration(directory.policy.gates.remind_every)
        sent = request.reminders_sent
        owed = reminders_due(
            request.requested_at,
            remind_every=every,
            expire_after=request.expires_at - request.requested_at,
            now=now,
            sent=sent,
        )
        number = sent + owed
        claimed = session.execute(
            update(GateRequest)
            .where(
                col(GateRequest.id) == request.id,
                col(GateRequest.status) == "open",
                col(GateRequest.reminders_sent) == sent,
            )
            .values(reminders_sent=number, next_reminder_at=_next_reminder(request, every, number))
            .execution_options(synchronize_session=False)
        )
        session.refresh(request)
        if not getattr(claimed, "rowcount", 0) or owed <= 0:
            return 0
        decisions = decisions_of(session, request.id)
        pending = [p for people in tally_of(request, decisions).pending.values() for p in people]
        view = gate_view(session, request, directory, decisions=decisions)
        reached, _ = self._messages.direct(
            session,
            directory,
            pending,
            lambda locale: cards.reminder(view, locale),
            f"gate:{request.id}:remind:{number}",
        )
        audit.record(
            session,
            actor="scheduler",
            action="gate.reminded",
            subject=f"gate:{request.id}",
            number=number,
            reminded=reached,
        )
        return 1


def _next_reminder(request: GateRequest, every: timedelta, number: int) -> datetime | None:
    if every <= timedelta(0):
        return None
    following = request.requested_at + every * (number + 1)
    return following if following < request.expires_at else None
