"""Who owns / who fixes a component, and what a team or person owns (the RACI answers).

Answered from the directory in memory (services/directory.py): a question reads no table.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy.engine import Engine

from launchops.domain.errors import NotFound
from launchops.services.component_index import ComponentIndex
from launchops.services.directory import ComponentInfo, Directory, DirectoryCache
from launchops.services.people import Viewer
from launchops.text import normalize_key

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
        self.index = index or ComponentIndex(DirectoryCache(engine))

    def who_owns(self, query: str, viewer: Viewer, *, shared: bool) -> OwnerAnswer:
        """The RACI answer. `shared` = others will see it, so confidential details stay out."""
        directory = self.index.directory.get()
        component_id = self.index.exact(None, query)
        component = directory.components.get(component_id or "")
        if component is None:
            raise self._not_found(directory, query)
        return _answer(directory, component, viewer, shared=shared)

    def could_be_component(self, query: str) -> bool:
        """Whether the words before a declaration's colon are meant as a component: they name
        one, or they are a single word close to one (a typo the declarer should be asked
        about). Anything else ("API returns 500") is part of the title."""
        if self.index.exact(None, query) is not None:
            return True
        return len(query.split()) == 1 and bool(self.index.suggest(None, query))

    def search_components(self, text: str, limit: int = 100) -> list[tuple[str, str]]:
        """(id, name) of components matching `text` by id, name or alias, best first (a
        form's component picker)."""
        return self.index.search(None, text, limit)

    def owned_by(self, query: str) -> Holdings:
        directory = self.index.directory.get()
        party = _find_party(directory, query)
        if party is None:
            raise NotFound(
                "error.unknown_party",
                query=query,
                suggestions=_party_suggestions(directory, query),
            )
        return Holdings(party, tuple(_holdings(directory, party)))

    def _not_found(self, directory: Directory, query: str) -> NotFound:
        suggestions = self.index.suggest(None, query)
        party = _find_party(directory, query)
        return NotFound(
            "error.unknown_component",
            query=query,
            suggestions=[(s.component_id, s.name) for s in suggestions],
            party=party.id if party else None,
        )


def _answer(
    directory: Directory, component: ComponentInfo, viewer: Viewer, *, shared: bool
) -> OwnerAnswer:
    raci = {
        role: tuple(_party(directory, kind, ident) for kind, ident in parties)
        for role, parties in component.raci.items()
    }
    responsible = list(raci.get("R", ()))
    accountable = list(raci.get("A", ()))
    insiders = _insiders(directory, responsible + accountable)
    redacted = component.classification in CONFIDENTIAL and (
        shared or viewer.person_id not in insiders
    )
    return OwnerAnswer(
        component_id=component.id,
        component_name=component.name,
        area=component.area,
        classification=component.classification,
        aliases=tuple(a for a in component.key_texts if a not in (component.id, component.name)),
        raci={role: raci.get(role, ()) for role in ROLES},
        oncall=_first_oncall(directory, responsible),
        runbook=None if redacted else component.runbook,
        description=None if redacted else component.description,
        redacted=redacted,
    )


def _party(directory: Directory, kind: str, ident: str) -> PartyRef:
    row = directory.teams.get(ident) if kind == "team" else directory.people.get(ident)
    return PartyRef(kind, ident, row.name if row else ident)


def _insiders(directory: Directory, parties: list[PartyRef]) -> set[str]:
    people = {p.id for p in parties if p.kind == "person"}
    for party in parties:
        team = directory.teams.get(party.id) if party.kind == "team" else None
        if team is not None:
            people.update(team.members)
    return people


def _first_oncall(directory: Directory, responsible: list[PartyRef]) -> PersonRef | None:
    for party in responsible:
        if party.kind == "person":
            person = directory.people.get(party.id)
        else:
            team = directory.teams.get(party.id)
            oncall = (
                [directory.people[p] for p in team.oncall if p in directory.people] if team else []
            )
            person = oncall[0] if oncall else None
        if person is not None:
            return PersonRef(person.id, person.name, person.slack_id, person.teams_id)
    return None


def _find_party(directory: Directory, query: str) -> PartyRef | None:
    key = normalize_key(query)
    if not key:
        return None
    for team in directory.teams.values():
        if key in (normalize_key(team.id), normalize_key(team.name)):
            return PartyRef("team", team.id, team.name)
    for person in directory.people.values():
        if key in (normalize_key(person.id), normalize_key(person.name)):
            return PartyRef("person", person.id, person.name)
    return None


def _party_suggestions(directory: Directory, query: str) -> list[tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    for team in directory.teams.values():
        names[normalize_key(team.name)] = (team.id, team.name)
        names[normalize_key(team.id)] = (team.id, team.name)
    for person in directory.people.values():
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


def _holdings(directory: Directory, party: PartyRef) -> list[Holding]:
    targets: list[tuple[str, str, str | None]] = [(party.kind, party.id, None)]
    if party.kind == "person":
        mine = directory.memberships.get(party.id, frozenset())
        targets += [("team", t.id, t.name) for t in directory.teams.values() if t.id in mine]
    by_name = sorted(directory.components.values(), key=lambda c: c.name)
    out: list[Holding] = []
    seen: set[tuple[str, str]] = set()
    for kind, ident, via in targets:
        for role in ("A", "R"):
            for component in by_name:
                if (kind, ident) in component.raci.get(role, ()) and (
                    component.id,
                    role,
                ) not in seen:
                    seen.add((component.id, role))
                    out.append(Holding(component.id, component.name, role, via))
    return out
