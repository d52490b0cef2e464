"""Stage gates: request the next stage, decide, attest, read the status, and react when the
evidence changes under an open gate. Reminders and expiry: services/gate_sweep.py.

Each use case is one transaction with its outbox rows and audit line; how concurrent
decisions stay exactly-once is in services/gate_state.py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from launchops.config.models import parse_duration
from launchops.domain.errors import BadCommand, InvalidTransition, NotFound
from launchops.domain.evidence import fingerprint
from launchops.domain.gates import GateView, requirements
from launchops.messages import gate_views as cards
from launchops.messages.reply import Reply
from launchops.services import audit
from launchops.services.actors import Actor
from launchops.services.directory import Directory, DirectoryCache, ProjectInfo
from launchops.services.gate_changes import EvidenceKeeper
from launchops.services.gate_comments import MAX_COMMENT_CHARS, Commented, GateComments
from launchops.services.gate_evidence import dump_items, gather
from launchops.services.gate_messages import GateMessenger
from launchops.services.gate_records import (
    decisions_of,
    find_project,
    gate_view,
    parse_stage,
    requester,
    tally_of,
)
from launchops.services.gate_rules import check_step, commenter, decider, refuse_if_open
from launchops.services.gate_state import close, current_stage, lock
from launchops.services.gate_sweep import GateSweeper
from launchops.services.incident_state import unit_of_work
from launchops.services.roadmap_reads import project_flags
from launchops.store import read_scope
from launchops.store.gate_models import GateDecision, GateRequest
from launchops.store.types import utcnow

__all__ = [
    "MAX_COMMENT_CHARS",
    "MAX_REASON_CHARS",
    "Commented",
    "Decided",
    "GateService",
    "GateStatus",
    "Requested",
]

log = structlog.get_logger(__name__)

MAX_REASON_CHARS = 2000
HISTORY = 10  # past gates shown by `gate status`


@dataclass(frozen=True)
class Requested:
    gate: GateView
    created: bool
    asked: tuple[str, ...] = ()
    unreachable: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decided:
    gate: GateView
    verdict: str
    recorded: bool  # False: this person's decision on this evidence was already there


@dataclass(frozen=True)
class GateStatus:
    project: str
    stage: str
    open: GateView | None
    past: tuple[GateView, ...]
    flags: tuple[str, ...] = ()  # the portfolio's: no sponsor, over its hard limit, …


class GateService:
    def __init__(
        self,
        engine: Engine,
        *,
        platforms: tuple[str, ...],
        directory: DirectoryCache,
        default_locale: str = "en",
        clock: Callable[[], datetime] = utcnow,
        on_enqueue: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._directory = directory
        self._clock = clock
        self._on_enqueue = on_enqueue or (lambda: None)
        self.messages = GateMessenger(platforms=platforms, locale=default_locale)
        self._changes = EvidenceKeeper(
            self.messages, directory=directory, clock=clock, unit=self.unit
        )
        self._comments = GateComments(engine, directory=directory, unit=self.unit)
        self._sweeper = GateSweeper(
            engine, self.messages, directory=directory, clock=clock, unit=self.unit
        )

    def set_wakeup(self, on_enqueue: Callable[[], None]) -> None:
        self._on_enqueue = on_enqueue

    def unit(self) -> AbstractContextManager[Session]:
        return unit_of_work(self._engine, lambda: self._on_enqueue())

    def sweep(self) -> int:
        """Remind and expire what is due (the scheduler's job); returns gates acted on."""
        return self._sweeper.sweep()

    # requesting ---------------------------------------------------------------------------
    def request(
        self, project_query: str, stage: str, actor: Actor, *, request_key: str | None = None
    ) -> Requested:
        target = parse_stage(stage)
        try:
            with self.unit() as session:
                directory = self._directory.get(session)
                project = find_project(directory, project_query)
                twin = _by_key(session, request_key)
                if twin is not None:
                    return Requested(gate_view(session, twin, directory), created=False)
                return self._request(session, directory, project, target, actor, request_key)
        except IntegrityError:
            # A concurrent twin: the same request retried, or another one for the project.
            with read_scope(self._engine) as session:
                directory = self._directory.get(session)
                twin = _by_key(session, request_key)
                if twin is not None:
                    return Requested(gate_view(session, twin, directory), created=False)
                project = find_project(directory, project_query)
                refuse_if_open(session, project)
                raise

    def _request(
        self,
        session: Session,
        directory: Directory,
        project: ProjectInfo,
        target: str,
        actor: Actor,
        request_key: str | None,
    ) -> Requested:
        current = current_stage(session, project.id)
        check_step(project, current, target)
        person = requester(directory, project, actor)
        refuse_if_open(session, project)
        policy = directory.policy.gates
        stage_policy = policy.stages.get(target)  # type: ignore[call-overload]
        if stage_policy is None or not stage_policy.approvers:
            raise BadCommand("gate.error.no_approvers", stage=target)
        needs = requirements(stage_policy.approvers, policy.stakeholders)
        for need in needs:
            if not need.satisfiable:
                raise BadCommand(
                    "gate.error.unsatisfiable",
                    group=need.group,
                    needed=need.needed,
                    members=len(need.members),
                )
        now = self._clock()
        items = gather(session, directory, project, target, now)
        expires = now + parse_duration(policy.expire_after)
        remind = now + parse_duration(policy.remind_every)
        request = GateRequest(
            project_id=project.id,
            from_stage=current,
            to_stage=target,
            requested_by=person,
            requested_at=now,
            expires_at=expires,
            next_reminder_at=remind if now < remind < expires else None,
            requirements=[
                {"group": n.group, "members": list(n.members), "needed": n.needed} for n in needs
            ],
            evidence=dump_items(items),
            evidence_fingerprint=fingerprint(items),
            request_key=request_key,
        )
        session.add(request)
        session.flush()
        assert request.id is not None
        view = gate_view(session, request, directory, decisions=[])
        groups_of = {
            p: [n.group for n in needs if p in n.members] for n in needs for p in n.members
        }
        asked: list[str] = []
        unreachable: list[str] = []
        for person_id, groups in groups_of.items():
            reached, missed = self.messages.direct(
                session,
                directory,
                [person_id],
                partial(_ask, view, groups),
                f"gate:{request.id}:ask:1",
            )
            asked += reached
            unreachable += missed
        self.messages.post_summary(session, directory, view, project, person)
        audit.record(
            session,
            actor=actor.label,
            action="gate.requested",
            subject=f"gate:{request.id}",
            project=project.id,
            from_stage=current,
            to_stage=target,
            asked=asked,
            unreachable=unreachable,
        )
        return Requested(view, True, tuple(asked), tuple(unreachable))

    # deciding -----------------------------------------------------------------------------
    def decide(
        self,
        request_id: int,
        verdict: str,
        actor: Actor,
        *,
        reason: str | None = None,
        evidence_version: int | None = None,
    ) -> Decided:
        """Record `actor`'s approval or rejection on the evidence in force. A click on an
        older message still counts on the current evidence (DESIGN.md §4): its version is
        only checked to be one this request has had."""
        if verdict not in ("approve", "reject"):
            raise BadCommand("gate.usage")
        reason = " ".join((reason or "").split()) or None
        if verdict == "reject" and reason is None:
            raise BadCommand("gate.error.reason_required", id=request_id)
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            raise BadCommand(
                "gate.error.reason_too_long", limit=MAX_REASON_CHARS, length=len(reason)
            )
        try:
            with self.unit() as session:
                return self._decide(session, request_id, verdict, actor, reason, evidence_version)
        except IntegrityError:
            # The same person's twin click committed first: theirs is the decision.
            with read_scope(self._engine) as session:
                request = session.get(GateRequest, request_id)
                if request is None:  # pragma: no cover - a request is never deleted
                    raise
                view = gate_view(session, request, self._directory.get(session))
                return Decided(view, verdict, recorded=False)

    def _decide(
        self,
        session: Session,
        request_id: int,
        verdict: str,
        actor: Actor,
        reason: str | None,
        evidence_version: int | None,
    ) -> Decided:
        directory = self._directory.get(session)
        request = session.get(GateRequest, request_id)
        ref = {"ref": f"#{request_id}"}
        if request is None:
            raise NotFound("gate.error.not_found", **ref)
        person = decider(request, actor, evidence_version)
        request = lock(session, request_id)
        earlier = session.exec(
            select(GateDecision).where(
                GateDecision.request_id == request_id,
                GateDecision.person_id == person,
                GateDecision.evidence_version == request.evidence_version,
            )
        ).first()
        if earlier is not None:
            return Decided(gate_view(session, request, directory), earlier.verdict, False)
        if request.status != "open":
            raise InvalidTransition("gate.error.closed", status=request.status, **ref)
        now = self._clock()
        session.add(
            GateDecision(
                request_id=request_id,
                person_id=person,
                verdict=verdict,
                reason=reason,
                evidence_version=request.evidence_version,
                at=now,
            )
        )
        session.flush()
        audit.record(
            session,
            actor=actor.label,
            action="gate.decided",
            subject=f"gate:{request_id}",
            person=person,
            verdict=verdict,
            evidence_version=request.evidence_version,
            reason=reason,
        )
        decisions = decisions_of(session, request_id)
        state = tally_of(request, decisions).state
        closed = state in ("passed", "rejected") and close(
            session, request, state, actor, self._clock()
        )
        view = gate_view(session, request, directory, decisions=decisions)
        self.messages.refresh(session, view)
        if closed:
            project = directory.projects.get(request.project_id)
            if project is not None:
                self.messages.announce(session, directory, view, project)
        return Decided(view, verdict, True)

    # attesting and evidence changes (services/gate_changes.py) ---------------------------
    def attest(
        self, request_id: int, key: str, ok: bool, actor: Actor, *, value: str | None = None
    ) -> GateView:
        """The requester's word for an item data cannot show (never resets approvals)."""
        return self._changes.attest(request_id, key, ok, actor, value=value)

    def evidence_changed(self, session: Session, component_id: str, reason: str) -> list[int]:
        """Call inside the transaction that declares a P0/P1 on `component_id` (see
        `EvidenceKeeper.evidence_changed`); returns the ids of the gates it changed."""
        return self._changes.evidence_changed(session, component_id, reason)

    # commenting (services/gate_comments.py) ---------------------------------------------
    def comment(
        self, request_id: int, actor: Actor, text: str, *, request_key: str | None = None
    ) -> Commented:
        """A remark by the requester, the project's owner or an approver (audited, masked)."""
        return self._comments.comment(request_id, actor, text, request_key=request_key)

    def comments(self, request_id: int, limit: int = 5) -> list[tuple[str, str]]:
        """The latest comments on a request, oldest first, as (who, text)."""
        return self._comments.latest(request_id, limit)

    def check(
        self,
        request_id: int,
        actor: Actor,
        *,
        comment: bool = False,
        evidence_version: int | None = None,
    ) -> None:
        """Raise what `decide` (or `comment`) would refuse `actor` for, writing nothing: a
        platform asks before it opens a form for the reason, so nobody types one in vain."""
        with read_scope(self._engine) as session:
            request = session.get(GateRequest, request_id)
            ref = {"ref": f"#{request_id}"}
            if request is None:
                raise NotFound("gate.error.not_found", **ref)
            if comment:
                commenter(request, actor, self._directory.get(session))
            else:
                decider(request, actor, evidence_version)
            if request.status != "open":
                raise InvalidTransition("gate.error.closed", status=request.status, **ref)

    # reading ------------------------------------------------------------------------------
    def status(self, project_query: str) -> GateStatus:
        """The current stage, the open request and its decisions, and the past gates."""
        with read_scope(self._engine) as session:
            directory = self._directory.get(session)
            project = find_project(directory, project_query)
            stage = current_stage(session, project.id)
            rows = session.exec(
                select(GateRequest)
                .where(GateRequest.project_id == project.id)
                .order_by(col(GateRequest.id).desc())
                .limit(HISTORY + 1)
            ).all()
            views = [gate_view(session, r, directory) for r in rows]
            open_gate = next((v for v in views if v.status == "open"), None)
            past = tuple(v for v in views if v.status != "open")[:HISTORY]
            flags = project_flags(session, directory, project, self._clock())
            return GateStatus(project.name, stage, open_gate, past, flags)


def _by_key(session: Session, request_key: str | None) -> GateRequest | None:
    if not request_key:
        return None
    return session.exec(select(GateRequest).where(GateRequest.request_key == request_key)).first()


def _ask(view: GateView, groups: list[str], locale: str) -> Reply:
    return cards.approval_request(view, locale, groups)
