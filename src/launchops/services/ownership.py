"""Who owns / who fixes a component, and what a team or person owns (the RACI answers)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.domain.errors import NotFound
from launchops.domain.text import normalize_key
from launchops.services.component_index import ComponentIndex
from launchops.services.people import Viewer
from launchops.store import session_scope
from launchops.store.models import (
    Component,
    ComponentKey,
    Person,
    RaciAssignment,
    Team,
    TeamMember,
)

CONFIDENTIAL = frozenset({"confidential", "pii"})
ROLES = ("R", "A", "C", "I")


@dataclass(frozen=True)
class PersonRef:
    id: str
    name: str
    slack_id: str | None
    teams_id: str | None


@dataclass(frozen=True)
class PartyRef:
    kind: str  # team | person
    id: str
    name: str


@dataclass(frozen=True)
class OwnerAnswer:
    component_id: str
    component_name: str
    area: str
    classification: str
    aliases: tuple[str, ...]
    raci: dict[str, tuple[PartyRef, ...]]
    oncall: PersonRef | None
    runbook: str | None
    description: str | None
    redacted: bool  # details withheld: confidential component, viewer not in its R/A teams


@dataclass(frozen=True)
class Holding:
    component_id: str
    component_name: str
    role: str  # R or A
    via_team: str | None  # the team's name, when a person holds it through one of their teams


@dataclass(frozen=True)
class Holdings:
    party: PartyRef
    holdings: tuple[Holding, ...]


class OwnershipService:
    def __init__(self, engine: Engine, index: ComponentIndex | None = None) -> None:
        self._engine = engine
        self.index = index or ComponentIndex()

    def who_owns(self, query: str, viewer: Viewer, *, shared: bool) -> OwnerAnswer:
        """The RACI answer. `shared` = others will see it, so confidential details stay out."""
        with session_scope(self._engine) as session:
            component_id = self.index.exact(session, query)
            if component_id is None:
                raise self._not_found(session, query)
            component = session.get(Component, component_id)
            assert component is not None
            return self._answer(session, component, viewer, shared=shared)

    def could_be_component(self, query: str) -> bool:
        """Whether the words before a declaration's colon are meant as a component: they name
        one, or they are a single word close to one (a typo the declarer should be asked
        about). Anything else ("API returns 500") is part of the title."""
        with session_scope(self._engine) as session:
            if self.index.exact(session, query) is not None:
                return True
            return len(query.split()) == 1 and bool(self.index.suggest(session, query))

    def search_components(self, text: str, limit: int = 100) -> list[tuple[str, str]]:
        """(id, name) of components matching `text` by id, name or alias, best first (a
        form's component picker)."""
        with session_scope(self._engine) as session:
            return self.index.search(session, text, limit)

    def owned_by(self, query: str) -> Holdings:
        with session_scope(self._engine) as session:
            party = _find_party(session, query)
            if party is None:
                raise NotFound(
                    "error.unknown_party",
                    query=query,
                    suggestions=_party_suggestions(session, query),
                )
            return Holdings(party, tuple(_holdings(session, party)))

    def _not_found(self, session: Session, query: str) -> NotFound:
        suggestions = self.index.suggest(session, query)
        party = _find_party(session, query)
        return NotFound(
            "error.unknown_component",
            query=query,
            suggestions=[(s.component_id, s.name) for s in suggestions],
            party=party.id if party else None,
        )

    def _answer(
        self, session: Session, component: Component, viewer: Viewer, *, shared: bool
    ) -> OwnerAnswer:
        assignments = session.exec(
            select(RaciAssignment)
            .where(RaciAssignment.component_id == component.id)
            .order_by(col(RaciAssignment.role), col(RaciAssignment.position))
        ).all()
        raci: dict[str, list[PartyRef]] = defaultdict(list)
        for assignment in assignments:
            raci[assignment.role].append(
                _party(session, assignment.party_kind, assignment.party_id)
            )
        responsible = raci.get("R", [])
        accountable = raci.get("A", [])
        insiders = _insiders(session, responsible + accountable)
        redacted = component.classification in CONFIDENTIAL and (
            shared or viewer.person_id not in insiders
        )
        aliases = session.exec(
            select(ComponentKey.text).where(ComponentKey.component_id == component.id)
        ).all()
        return OwnerAnswer(
            component_id=component.id,
            component_name=component.name,
            area=component.area,
            classification=component.classification,
            aliases=tuple(a for a in aliases if a not in (component.id, component.name)),
            raci={role: tuple(raci.get(role, [])) for role in ROLES},
            oncall=_first_oncall(session, responsible),
            runbook=None if redacted else component.runbook,
            description=None if redacted else component.description,
            redacted=redacted,
        )


def _party(session: Session, kind: str, ident: str) -> PartyRef:
    row: Team | Person | None = (
        session.get(Team, ident) if kind == "team" else session.get(Person, ident)
    )
    return PartyRef(kind, ident, row.name if row else ident)


def _insiders(session: Session, parties: list[PartyRef]) -> set[str]:
    people = {p.id for p in parties if p.kind == "person"}
    teams = [p.id for p in parties if p.kind == "team"]
    if teams:
        members = session.exec(
            select(TeamMember.person_id).where(col(TeamMember.team_id).in_(teams))
        ).all()
        people.update(members)
    return people


def _first_oncall(session: Session, responsible: list[PartyRef]) -> PersonRef | None:
    for party in responsible:
        if party.kind == "person":
            person = session.get(Person, party.id)
        else:
            person = session.exec(
                select(Person)
                .join(TeamMember, col(TeamMember.person_id) == col(Person.id))
                .where(TeamMember.team_id == party.id, col(TeamMember.oncall_rank).is_not(None))
                .order_by(col(TeamMember.oncall_rank))
            ).first()
        if person is not None:
            return PersonRef(person.id, person.name, person.slack_id, person.teams_id)
    return None


def _find_party(session: Session, query: str) -> PartyRef | None:
    key = normalize_key(query)
    if not key:
        return None
    for team in session.exec(select(Team)).all():
        if key in (normalize_key(team.id), normalize_key(team.name)):
            return PartyRef("team", team.id, team.name)
    for person in session.exec(select(Person)).all():
        if key in (normalize_key(person.id), normalize_key(person.name)):
            return PartyRef("person", person.id, person.name)
    return None


def _party_suggestions(session: Session, query: str) -> list[tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    for team in session.exec(select(Team)).all():
        names[normalize_key(team.name)] = (team.id, team.name)
        names[normalize_key(team.id)] = (team.id, team.name)
    for person in session.exec(select(Person)).all():
        names[normalize_key(person.name)] = (person.id, person.name)
        names[normalize_key(person.id)] = (person.id, person.name)
    found = process.extract(
        normalize_key(query), list(names), scorer=fuzz.WRatio, limit=6, score_cutoff=60
    )
    out: list[tuple[str, str]] = []
    for key, _, _ in found:
        if names[key] not in out:
            out.append(names[key])
    return out[:3]


def _holdings(session: Session, party: PartyRef) -> list[Holding]:
    targets: list[tuple[str, str, str | None]] = [(party.kind, party.id, None)]
    if party.kind == "person":
        teams = session.exec(
            select(Team)
            .join(TeamMember, col(TeamMember.team_id) == col(Team.id))
            .where(TeamMember.person_id == party.id)
        )
        targets += [("team", team.id, team.name) for team in teams.all()]
    out: list[Holding] = []
    seen: set[tuple[str, str]] = set()
    for kind, ident, via in targets:
        rows = session.exec(
            select(RaciAssignment, Component)
            .join(Component, col(Component.id) == col(RaciAssignment.component_id))
            .where(
                RaciAssignment.party_kind == kind,
                RaciAssignment.party_id == ident,
                col(RaciAssignment.role).in_(("R", "A")),
            )
            .order_by(col(RaciAssignment.role), col(Component.name))
        ).all()
        for assignment, component in rows:
            if (component.id, assignment.role) not in seen:
                seen.add((component.id, assignment.role))
                out.append(Holding(component.id, component.name, assignment.role, via))
    return out
