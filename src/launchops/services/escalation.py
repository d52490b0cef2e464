"""Escalation: the next `escalate_to` step when a deadline passes, when someone asks for it,
or at once when nobody at the current step could be reached.

Exactly once across replicas: the sweep reads candidates, then takes each in its own
transaction, locked with SKIP LOCKED on PostgreSQL and claimed with a compare-and-set on
`escalation_step` on both backends, so two replicas sweeping together fire each step once.
A step that reaches nobody (nobody configured, or no chat id) moves on in the same
transaction; a page refused for good later (`page_failed`, told by the dispatcher) makes the
next step due now, and the sweep fires it within a second (DESIGN.md §4).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

import structlog
from sqlalchemy import func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.delivery.outbox import DEAD, outbox_table
from launchops.domain.page_failures import REASONS, classify
from launchops.domain.paging import plan_pages
from launchops.messages.incident_views import Localized
from launchops.metrics import ESCALATION_STEPS, PAGES_FAILED
from launchops.services import audit
from launchops.services.actors import Actor
from launchops.services.incident_messages import Escalation, IncidentMessenger
from launchops.services.incident_records import deadline, page_error_value, snapshot_policy
from launchops.services.incident_state import OPEN_STATES, after_commit, compare_and_set
from launchops.services.org import org_snapshot
from launchops.store import session_scope
from launchops.store.models import Incident, IncidentMessage, IncidentResponder, Person

__all__ = ["SWEEP_BATCH", "Escalator"]

log = structlog.get_logger(__name__)

SWEEP_BATCH = 50


class Escalator:
    def __init__(
        self,
        engine: Engine,
        messages: IncidentMessenger,
        *,
        clock: Callable[[], datetime],
        unit: Callable[[], AbstractContextManager[Session]],
    ) -> None:
        self._engine = engine
        self._messages = messages
        self._clock = clock
        self._unit = unit
        self._lock_rows = engine.dialect.name == "postgresql"

    # the sweep ---------------------------------------------------------------------------
    def escalate_due(self) -> int:
        """Escalate every open incident past its deadline, once; returns how many."""
        now = self._clock()
        with session_scope(self._engine) as session:
            candidates = session.exec(
                select(Incident.id)
                .where(Incident.status == "open", col(Incident.next_escalation_at) <= now)
                .order_by(col(Incident.next_escalation_at))
                .limit(SWEEP_BATCH)
            ).all()
        done = 0
        for incident_id in candidates:
            try:
                with self._unit() as session:
                    incident = session.exec(
                        select(Incident)
                        .where(
                            Incident.id == incident_id,
                            Incident.status == "open",
                            col(Incident.next_escalation_at) <= now,
                        )
                        .with_for_update(skip_locked=True)
                    ).first()
                    if incident is None:
                        continue
                    if self.step(session, incident, actor=None) is not None:
                        done += 1
            except Exception:
                log.exception("incident.escalation_failed", incident=incident_id)
        return done

    # one step ----------------------------------------------------------------------------
    def step(
        self, session: Session, incident: Incident, *, actor: Actor | None
    ) -> list[str] | None:
        """Fire the next step, and the ones after it while a step reaches nobody.

        Returns the names paged, or None when no step was left (or another replica fired it
        first). With no step left a passed deadline is noted in the thread once.
        """
        level_policy = snapshot_policy(incident, incident.severity)
        steps = level_policy.escalate_to
        now = self._clock()
        skipped = False
        while True:
            step = incident.escalation_step
            if step >= len(steps):
                if actor is None or skipped:
                    self._exhausted(session, incident, step, "incident.note.exhausted")
                return None
            due = deadline(level_policy, now) if incident.status == "open" else None
            if not compare_and_set(
                session,
                incident,
                OPEN_STATES,
                escalation_step=step + 1,
                next_escalation_at=due,
                expect_step=step,
            ):
                return None
            trigger = "skip" if skipped else "hand" if actor else "deadline"
            after_commit(session, ESCALATION_STEPS.labels(incident.severity, trigger).inc)
            paged = self._fire(session, incident, steps[step], step + 1, actor, now)
            if paged:
                return paged
            self._messages.broadcast(session, incident, "incident.note.step_nobody", step=step + 1)
            skipped = True

    def _fire(
        self,
        session: Session,
        incident: Incident,
        target: str,
        number: int,
        actor: Actor | None,
        now: datetime,
    ) -> list[str]:
        """Page step `number` (1-based); returns the names of the people it paged.

        A step reaches somebody when at least one page to a person is queued: a card in a
        team channel informs, but pages nobody (DESIGN.md §4)."""
        snapshot = org_snapshot(
            session, component_id=incident.component_id, team_id=incident.team_id
        )
        plan = plan_pages([target], snapshot)
        escalation = Escalation(
            waited=now - incident.declared_at, by=actor.label if actor else None
        )
        paged, unreachable = self._messages.page(
            session, incident, plan, step=number, escalation=escalation
        )
        posted = (
            self._messages.post_cards(session, incident, plan.channels) if plan.channels else []
        )
        audit.record(
            session,
            actor=actor.label if actor else "scheduler",
            action="incident.escalated",
            subject=f"incident:{incident.id}",
            step=number,
            target=target,
            paged=paged,
            unreachable=unreachable,
            posted=posted,
        )
        log.info("incident.escalated", incident=incident.id, step=number, paged=len(paged))
        if not paged:
            return []
        names = ", ".join([*paged, *posted])
        if actor is None:
            self._messages.broadcast(
                session, incident, "incident.note.escalated", people=names, step=number
            )
        else:
            self._messages.broadcast(
                session, incident, "incident.note.escalated_by", person=actor.label, people=names
            )
        return paged

    def _exhausted(self, session: Session, incident: Incident, step: int, note: str) -> None:
        """No step left: stop sweeping the incident and say so in its thread, once."""
        if compare_and_set(
            session,
            incident,
            OPEN_STATES,
            expect_step=step,
            also=col(Incident.next_escalation_at).is_not(None),
            next_escalation_at=None,
        ):
            audit.record(
                session,
                actor="scheduler",
                action="incident.escalation_exhausted",
                subject=f"incident:{incident.id}",
            )
            self._messages.broadcast(session, incident, note)

    # pages refused for good --------------------------------------------------------------
    def page_failed(self, outbox_id: int, error: str) -> None:
        """The dispatcher gave up on outbox row `outbox_id`: if it was a page, note it on the
        responder and in the thread, and escalate now if nobody at its step was reached."""
        failure = classify(error)
        with self._unit() as session:
            message = session.exec(
                select(IncidentMessage).where(
                    IncidentMessage.outbox_id == outbox_id,
                    col(IncidentMessage.person_id).is_not(None),
                )
            ).first()
            if message is None or message.person_id is None:
                return
            incident = self._locked(session, message.incident_id)
            if incident is None:
                return
            responder = session.get(IncidentResponder, (incident.id, message.person_id))
            if responder is not None:
                responder.page_error = page_error_value(failure.reason, failure.code)
                session.add(responder)
            person = session.get(Person, message.person_id)
            name = person.name if person else message.person_id
            platform = message.platform
            after_commit(session, PAGES_FAILED.labels(platform, failure.reason).inc)
            audit.record(
                session,
                actor="dispatcher",
                action="incident.page_failed",
                subject=f"incident:{incident.id}",
                person=message.person_id,
                platform=platform,
                reason=failure.reason,
                code=failure.code,
            )
            log.warning(
                "incident.page_failed",
                incident=incident.id,
                person=message.person_id,
                platform=platform,
                reason=failure.reason,
            )
            if incident.status == "resolved":
                return
            reason = failure.reason if failure.reason in REASONS else "other"
            self._messages.broadcast(
                session,
                incident,
                "incident.note.page_failed",
                person=name,
                reason=Localized(f"incident.page_error.{reason}", {"code": failure.code}),
            )
            current = incident.status == "open" and message.step == incident.escalation_step
            if current and not self._anyone_reached(session, incident, message.step):
                self._escalate_now(session, incident)

    def _locked(self, session: Session, incident_id: int) -> Incident | None:
        """The incident, locked on PostgreSQL: two refusals at once are judged one by one."""
        query = select(Incident).where(Incident.id == incident_id)
        if self._lock_rows:
            query = query.with_for_update()
        return session.exec(query).first()

    @staticmethod
    def _anyone_reached(session: Session, incident: Incident, step: int) -> bool:
        """Some page of `step` is sent or may still be: not every one of them is dead."""
        alive = session.execute(
            select(func.count())
            .select_from(IncidentMessage)
            .join(outbox_table, outbox_table.c.id == IncidentMessage.outbox_id)
            .where(
                IncidentMessage.incident_id == incident.id,
                IncidentMessage.step == step,
                col(IncidentMessage.person_id).is_not(None),
                outbox_table.c.status != DEAD,
            )
        ).scalar_one()
        return bool(alive)

    def _escalate_now(self, session: Session, incident: Incident) -> None:
        steps = snapshot_policy(incident, incident.severity).escalate_to
        step = incident.escalation_step
        if step >= len(steps):
            self._exhausted(session, incident, step, "incident.note.unreached_exhausted")
            return
        now = self._clock()
        # Not already due: a second refusal judged after the first must not note it twice.
        not_due = or_(
            col(Incident.next_escalation_at).is_(None), col(Incident.next_escalation_at) > now
        )
        if compare_and_set(
            session, incident, ("open",), expect_step=step, also=not_due, next_escalation_at=now
        ):
            self._messages.broadcast(session, incident, "incident.note.unreached_escalating")
