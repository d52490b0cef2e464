"""The decisions a roadmap nudge asks for: extend the stage's clock, stop the project, or
request the gate to the next stage.

Each is one transaction with its audit line and outbox rows, and every refusal is raised
before anything is written. Who may decide is the guide's rule: the owner may extend once on
their own word, after that (or past the hard limit) only the sponsor may; only the owner or
the sponsor may stop. Buttons carry `<project_id>:<stage>:<clock version>`
(domain/roadmap.py); a click about another stage, a moved clock or a project we do not know
changes nothing. Adapters call `check` before opening a form for the reason, then `extend`,
`stop` or `request_gate` with the button's value.
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
from sqlmodel import Session

from launchops.delivery import outbox
from launchops.domain.errors import (
    BadCommand,
    InvalidTransition,
    NotFound,
    NotOwnerOrSponsor,
    ProjectStopped,
    ReasonRequired,
    SponsorRequired,
    StaleButton,
)
from launchops.domain.gates import next_stage
from launchops.domain.masking import mask
from launchops.domain.roadmap import Clock, ClockRef, parse_clock_ref, to_deadline
from launchops.messages import roadmap_views as views
from launchops.messages.reply import Reply
from launchops.services import audit
from launchops.services.actors import Actor
from launchops.services.directory import Directory, DirectoryCache, ProjectInfo
from launchops.services.gate_records import find_project
from launchops.services.gates import GateService, Requested
from launchops.services.incident_state import unit_of_work
from launchops.services.roadmap_reads import clock_for, direct, project_destinations
from launchops.store import read_scope
from launchops.store.roadmap_models import ProjectStop, StageExtension
from launchops.store.types import utcnow

__all__ = ["MAX_REASON_CHARS", "Extended", "RoadmapService", "Stopped"]

log = structlog.get_logger(__name__)

MAX_REASON_CHARS = 2000
BUTTON_ACTIONS = {
    "roadmap_request_gate": "gate",
    "roadmap_extend": "extend",
    "roadmap_stop": "stop",
}


@dataclass(frozen=True)
class Extended:
    project: str
    stage: str
    due_at: datetime
    version: int  # the clock's new version
    by_sponsor: bool


@dataclass(frozen=True)
class Stopped:
    project: str
    stage: str
    reason: str


class RoadmapService:
    def __init__(
        self,
        engine: Engine,
        *,
        gates: GateService,
        platforms: tuple[str, ...],
        directory: DirectoryCache,
        default_locale: str = "en",
        clock: Callable[[], datetime] = utcnow,
        on_enqueue: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._gates = gates
        self._platforms = platforms
        self._directory = directory
        self._locale = default_locale
        self._clock = clock
        self._on_enqueue = on_enqueue or (lambda: None)

    def set_wakeup(self, on_enqueue: Callable[[], None]) -> None:
        self._on_enqueue = on_enqueue

    def _unit(self) -> AbstractContextManager[Session]:
        return unit_of_work(self._engine, lambda: self._on_enqueue())

    # reading ------------------------------------------------------------------------------
    def clock(self, project_query: str) -> Clock:
        with read_scope(self._engine) as session:
            directory = self._directory.get(session)
            project = find_project(directory, project_query)
            found = clock_for(session, directory, project.id)
            if found is None:
                raise NotFound("roadmap.error.no_clock", project=project.name, stage="—")
            return found

    def check(self, action_id: str, value: str, actor: Actor) -> ClockRef:
        """What the button `action_id` with `value` would be refused for, writing nothing:
        adapters ask before opening the reason form, so nobody types a reason in vain."""
        what = BUTTON_ACTIONS.get(action_id)
        if what is None:
            raise StaleButton()
        with read_scope(self._engine) as session:
            directory = self._directory.get(session)
            project, _clock_now, ref = self._from_button(
                session, directory, value, exact=what == "extend"
            )
            if what != "gate":
                _decider(directory, project, actor)
            _refuse_if_stopped(session, project)
            return ref

    # extending ----------------------------------------------------------------------------
    def extend(
        self,
        project_query: str,
        when: str,
        reason: str,
        actor: Actor,
        *,
        button: str | None = None,
    ) -> Extended:
        """Move the stage's deadline to `when` (`YYYY-MM-DD` or a duration from now). With a
        `button`, the click must be about the clock as it stands (an older nudge's Extend would
        otherwise extend twice)."""
        reason = _reason(reason, "extend")
        try:
            with self._unit() as session:
                return self._extend(session, project_query, when, reason, actor, button)
        except IntegrityError:
            # Another extension of the same clock version committed first: this click is
            # about a clock that has moved.
            raise StaleButton(project=project_query[:80]) from None

    def _extend(
        self,
        session: Session,
        project_query: str,
        when: str,
        reason: str,
        actor: Actor,
        button: str | None,
    ) -> Extended:
        directory = self._directory.get(session)
        if button is not None:
            project, clock, _ref = self._from_button(session, directory, button, exact=True)
            if project_query and find_project(directory, project_query).id != project.id:
                raise StaleButton(project=project.name)
        else:
            project = find_project(directory, project_query)
            clock = _clock(session, directory, project)
        person = _decider(directory, project, actor)
        _refuse_if_stopped(session, project)
        if clock.due_at is None:
            raise InvalidTransition(
                "roadmap.error.no_clock",
                project=project.name,
                stage=views.stage_name(clock.stage, self._locale),
            )
        now = self._clock()
        due = to_deadline(when, now)
        if due <= now:
            raise BadCommand("roadmap.error.in_past", given=when[:40])
        by_sponsor = person == project.sponsor
        if not by_sponsor:
            _owner_may_extend(directory, project, clock, due)
        session.add(
            StageExtension(
                project_id=project.id,
                stage=clock.stage,
                stage_entered=clock.entered_at,
                version=clock.version + 1,
                due_at=due,
                reason=reason,
                by=person,
                approved_by_sponsor=by_sponsor,
                at=now,
            )
        )
        session.flush()
        audit.record(
            session,
            actor=actor.label,
            action="roadmap.extended",
            subject=f"project:{project.id}",
            stage=clock.stage,
            version=clock.version + 1,
            due_at=due.isoformat(),
            reason=reason,
            by_sponsor=by_sponsor,
        )
        by_name = _name(directory, person)
        self._announce(
            session,
            directory,
            project,
            views.extended_note(
                project.name, clock.stage, due, reason, by_name, by_sponsor, self._locale
            ),
            f"ext:{clock.entered_at.timestamp():.0f}:{clock.version + 1}",
        )
        if not by_sponsor and project.sponsor:
            # The guide: keep the sponsor informed. They hear of the owner's one extension
            # directly, since the next one is theirs to give.
            direct(
                session,
                directory,
                self._platforms,
                [project.sponsor],
                partial(
                    views.extended_note, project.name, clock.stage, due, reason, by_name, False
                ),
                f"roadmap:{project.id}:ext:{clock.entered_at.timestamp():.0f}:{clock.version + 1}",
                self._locale,
            )
        log.info("roadmap.extended", project=project.id, stage=clock.stage, by_sponsor=by_sponsor)
        return Extended(project.name, clock.stage, due, clock.version + 1, by_sponsor)

    # stopping -----------------------------------------------------------------------------
    def stop(
        self, project_query: str, reason: str, actor: Actor, *, button: str | None = None
    ) -> Stopped:
        """Stop the project: no more nudges, announced in its channel, kept in the history
        (the portfolio lists stopped projects and why)."""
        reason = _reason(reason, "stop")
        try:
            with self._unit() as session:
                return self._stop(session, project_query, reason, actor, button)
        except IntegrityError:
            # A twin click (or the other replica) stopped it first.
            with read_scope(self._engine) as session:
                directory = self._directory.get(session)
                project = find_project(directory, project_query or _project_of(button))
                _refuse_if_stopped(session, project)
                raise

    def _stop(
        self,
        session: Session,
        project_query: str,
        reason: str,
        actor: Actor,
        button: str | None,
    ) -> Stopped:
        directory = self._directory.get(session)
        if button is not None:
            project, clock, _ref = self._from_button(session, directory, button, exact=False)
        else:
            project = find_project(directory, project_query)
            clock = _clock(session, directory, project)
        person = _decider(directory, project, actor)
        _refuse_if_stopped(session, project)
        now = self._clock()
        session.add(
            ProjectStop(project_id=project.id, stage=clock.stage, reason=reason, by=person, at=now)
        )
        session.flush()
        audit.record(
            session,
            actor=actor.label,
            action="roadmap.stopped",
            subject=f"project:{project.id}",
            stage=clock.stage,
            reason=reason,
        )
        reply = views.stopped_announcement(
            project.name, clock.stage, reason, _name(directory, person), self._locale
        )
        self._announce(session, directory, project, reply, "stop")
        log.info("roadmap.stopped", project=project.id, stage=clock.stage)
        return Stopped(project.name, clock.stage, reason)

    # requesting the gate -----------------------------------------------------------------
    def request_gate(
        self, button: str, actor: Actor, *, request_key: str | None = None
    ) -> Requested:
        """The nudge's Request gate: the gate to the next stage, as `gate request` would
        open it (GateService decides who may request and refuses a second open gate)."""
        with read_scope(self._engine) as session:
            directory = self._directory.get(session)
            project, clock, _ref = self._from_button(session, directory, button, exact=False)
            _refuse_if_stopped(session, project)
        target = next_stage(clock.stage)
        if target is None:
            raise InvalidTransition(
                "gate.error.last_stage", project=project.name, stage=clock.stage
            )
        return self._gates.request(project.id, target, actor, request_key=request_key)

    # helpers ------------------------------------------------------------------------------
    def _from_button(
        self, session: Session, directory: Directory, value: str, *, exact: bool
    ) -> tuple[ProjectInfo, Clock, ClockRef]:
        ref = parse_clock_ref(value)
        project = directory.projects.get(ref.project_id)
        if project is None:
            raise StaleButton(project=ref.project_id[:64])
        clock = _clock(session, directory, project)
        current = clock.stage == ref.stage and (
            ref.version == clock.version if exact else ref.version <= clock.version
        )
        if not current:
            raise StaleButton(project=project.name)
        return project, clock, ref

    def _announce(
        self, session: Session, directory: Directory, project: ProjectInfo, reply: Reply, key: str
    ) -> None:
        for platform, kind, destination in project_destinations(
            directory, project, self._platforms
        ):
            outbox.enqueue(
                session,
                platform=platform,
                kind=kind,
                destination=destination,
                reply=reply,
                locale=self._locale,
                dedupe_key=f"roadmap:{project.id}:{key}:{platform}"[:255],
            )


def _reason(reason: str | None, what: str) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise ReasonRequired(f"roadmap.error.reason.{what}")
    if len(text) > MAX_REASON_CHARS:
        raise BadCommand("roadmap.error.reason_too_long", limit=MAX_REASON_CHARS, length=len(text))
    return mask(text)


def _clock(session: Session, directory: Directory, project: ProjectInfo) -> Clock:
    found = clock_for(session, directory, project.id)
    if found is None:  # pragma: no cover - every synced project has a stage row
        raise NotFound("roadmap.error.no_clock", project=project.name, stage="—")
    return found


def _decider(directory: Directory, project: ProjectInfo, actor: Actor) -> str:
    person = actor.viewer.person_id
    if person is None or person not in (project.owner, project.sponsor):
        raise NotOwnerOrSponsor(
            project=project.name,
            owner=_name(directory, project.owner),
            sponsor=_name(directory, project.sponsor) if project.sponsor else "—",
        )
    return person


def _owner_may_extend(
    directory: Directory, project: ProjectInfo, clock: Clock, due: datetime
) -> None:
    sponsor = _name(directory, project.sponsor) if project.sponsor else "—"
    if clock.unsponsored >= 1:
        raise SponsorRequired(project=project.name, sponsor=sponsor)
    if clock.limit_at is not None and due > clock.limit_at:
        raise SponsorRequired(
            "roadmap.error.past_limit",
            project=project.name,
            sponsor=sponsor,
            limit=clock.limit_at.strftime("%Y-%m-%d %H:%M UTC"),
        )


def _refuse_if_stopped(session: Session, project: ProjectInfo) -> None:
    row = session.get(ProjectStop, project.id)
    if row is not None:
        raise ProjectStopped(project=project.name, date=row.at.strftime("%Y-%m-%d"))


def _name(directory: Directory, person_id: str | None) -> str:
    if person_id is None:
        return "—"
    person = directory.people.get(person_id)
    return person.name if person else person_id


def _project_of(button: str | None) -> str:
    return parse_clock_ref(button).project_id if button else ""
