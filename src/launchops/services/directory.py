"""The organisation in force, in memory: people, teams, components and their RACI.

Every question ("who owns rag?") needs the asker's person and teams and the component index;
reading them from the store per request was a fifth of the bot's time under load. The catalog
changes only when a config revision is synced, so one immutable `Directory` is built per
revision and swapped in whole: readers take a reference and never lock.

A revision synced in this process (the config reloader, `sync_config` anywhere) marks every
cache stale at once; one synced by another process (`launchops config sync`, another replica)
is noticed by reading the newest `ConfigRevision` id at most once a second, never per request.

The revision's policy rides along, parsed once: validating the whole policy JSON and dumping
every severity for the incident's snapshot was most of a declaration's CPU when done per call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from launchops.config.models import Policy
from launchops.domain.paging import TeamInfo
from launchops.services import config_sync
from launchops.store import read_scope
from launchops.store.models import (
    Component,
    ComponentKey,
    ConfigRevision,
    Person,
    Project,
    ProjectComponent,
    RaciAssignment,
    Team,
    TeamMember,
)

__all__ = [
    "CHECK_SECONDS",
    "ComponentInfo",
    "Directory",
    "DirectoryCache",
    "PersonInfo",
    "ProjectInfo",
    "TeamEntry",
]

CHECK_SECONDS: Final = 1.0
_LOAD_ATTEMPTS: Final = 3


@dataclass(frozen=True)
class PersonInfo:
    id: str
    name: str
    slack_id: str | None
    teams_id: str | None
    locale: str | None
    timezone: str


@dataclass(frozen=True)
class TeamEntry:
    id: str
    name: str
    slack_channel: str | None
    teams_channel: str | None
    members: tuple[str, ...]  # as stored (the file's members, then on-call people it forgot)
    oncall: tuple[str, ...]  # in paging order


@dataclass(frozen=True)
class ComponentInfo:
    id: str
    name: str
    area: str
    classification: str
    runbook: str | None
    description: str | None
    key_texts: tuple[str, ...]  # id, name and aliases as written, one per distinct key
    raci: Mapping[str, tuple[tuple[str, str], ...]]  # role letter → ((kind, id), …) in order


@dataclass(frozen=True)
class ProjectInfo:
    """A project as the catalog names it; its current stage is not here (gates move it, so it
    lives in the store: store/gate_models.py `ProjectStage`)."""

    id: str
    name: str
    owner: str
    components: tuple[str, ...]
    sponsor: str | None = None


@dataclass(frozen=True)
class Directory:
    """One config revision's organisation. Lists keep the store's order (the catalog's), so
    answers built from them read exactly as they did when each was a query."""

    revision: int | None
    people: Mapping[str, PersonInfo] = field(default_factory=dict)
    teams: Mapping[str, TeamEntry] = field(default_factory=dict)
    components: Mapping[str, ComponentInfo] = field(default_factory=dict)
    keys: Mapping[str, str] = field(default_factory=dict)  # normalized key → component id
    memberships: Mapping[str, frozenset[str]] = field(default_factory=dict)  # person → teams
    key_list: tuple[str, ...] = ()  # for rapidfuzz: every key, with its owner below
    key_owners: tuple[tuple[str, str], ...] = ()  # (component id, name) per key_list entry
    _by_platform: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    _by_channel: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # The revision's policy (the built-in defaults before the first sync), shared: never
    # mutate it. `severities_json` is what an incident keeps of it (`Incident.policy`), as
    # text so each incident decodes its own copy instead of aliasing one dict.
    policy: Policy = field(default_factory=Policy)
    severities_json: str = '{"severities": {}}'
    paging_teams: Mapping[str, TeamInfo] = field(default_factory=dict)  # for `OrgSnapshot`
    projects: Mapping[str, ProjectInfo] = field(default_factory=dict)

    def person_for(self, platform: str, user_ids: tuple[str, ...]) -> PersonInfo | None:
        """The first person (in catalog order) any of `user_ids` belongs to on `platform`."""
        index = self._by_platform.get("teams" if platform not in self._by_platform else platform)
        found = [index[i] for i in user_ids if index is not None and i in index]
        if not found:
            return None
        order = {person_id: n for n, person_id in enumerate(self.people)}
        return self.people[min(found, key=order.__getitem__)]

    def team_for_channel(self, platform: str, channel: str) -> str | None:
        return self._by_channel.get(platform, {}).get(channel)


def load_directory(session: Session) -> Directory:
    """Read the whole organisation; retried when a sync lands in the middle of the reads
    (each statement may see a newer commit on PostgreSQL), so a directory is never torn."""
    for _ in range(_LOAD_ATTEMPTS):
        before = newest_revision(session)
        directory = _with_policy(session, _read(session, before))
        if newest_revision(session) == before:
            return directory
    return directory


def newest_revision(session: Session) -> int | None:
    return session.exec(select(func.max(ConfigRevision.id))).one()


def _read(session: Session, revision: int | None) -> Directory:
    people = {
        p.id: PersonInfo(p.id, p.name, p.slack_id, p.teams_id, p.locale, p.timezone)
        for p in session.exec(select(Person).where(col(Person.retired_at).is_(None))).all()
    }
    members: dict[str, list[TeamMember]] = {}
    memberships: dict[str, set[str]] = {}
    for member in session.exec(select(TeamMember)).all():
        members.setdefault(member.team_id, []).append(member)
    teams: dict[str, TeamEntry] = {}
    for team in session.exec(select(Team).where(col(Team.retired_at).is_(None))).all():
        rows = members.get(team.id, [])
        ranked = sorted((m for m in rows if m.oncall_rank is not None), key=_rank)
        teams[team.id] = TeamEntry(
            team.id,
            team.name,
            team.slack_channel,
            team.teams_channel,
            tuple(m.person_id for m in rows),
            tuple(m.person_id for m in ranked),
        )
        for m in rows:
            memberships.setdefault(m.person_id, set()).add(team.id)
    texts: dict[str, list[str]] = {}
    keys: dict[str, str] = {}
    for key in session.exec(select(ComponentKey)).all():
        keys[key.key] = key.component_id
        texts.setdefault(key.component_id, []).append(key.text)
    raci: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for row in session.exec(
        select(RaciAssignment).order_by(col(RaciAssignment.role), col(RaciAssignment.position))
    ).all():
        raci.setdefault(row.component_id, {}).setdefault(row.role, []).append(
            (row.party_kind, row.party_id)
        )
    components = {
        c.id: ComponentInfo(
            c.id,
            c.name,
            c.area,
            c.classification,
            c.runbook,
            c.description,
            tuple(texts.get(c.id, ())),
            {role: tuple(parties) for role, parties in raci.get(c.id, {}).items()},
        )
        for c in session.exec(select(Component).where(col(Component.retired_at).is_(None))).all()
    }
    owned_keys = [(k, c) for k, c in keys.items() if c in components]
    parts: dict[str, list[str]] = {}
    for link in session.exec(select(ProjectComponent)).all():
        parts.setdefault(link.project_id, []).append(link.component_id)
    projects = {
        p.id: ProjectInfo(p.id, p.name, p.owner_id, tuple(parts.get(p.id, ())), p.sponsor_id)
        for p in session.exec(select(Project).where(col(Project.retired_at).is_(None))).all()
    }
    by_channel: dict[str, dict[str, str]] = {"slack": {}, "teams": {}}
    for team_entry in teams.values():
        for platform, channel in (
            ("slack", team_entry.slack_channel),
            ("teams", team_entry.teams_channel),
        ):
            if channel:
                by_channel[platform].setdefault(channel, team_entry.id)
    return Directory(
        revision=revision,
        people=people,
        teams=teams,
        components=components,
        keys=dict(owned_keys),
        memberships={p: frozenset(t) for p, t in memberships.items()},
        key_list=tuple(k for k, _ in owned_keys),
        key_owners=tuple((c, components[c].name) for _, c in owned_keys),
        _by_platform={
            "console": {p.id: p.id for p in people.values()},
            "slack": {p.slack_id: p.id for p in people.values() if p.slack_id},
            "teams": {p.teams_id: p.id for p in people.values() if p.teams_id},
        },
        _by_channel=by_channel,
        projects=projects,
    )


def _with_policy(session: Session, directory: Directory) -> Directory:
    """Add what a declaration needs of the revision: its policy, the incident's snapshot of
    it, and the teams as paging sees them."""
    revision = directory.revision
    row = session.get(ConfigRevision, revision) if revision is not None else None
    policy = Policy.model_validate(row.policy) if row is not None else Policy()
    severities = {k: v.model_dump(mode="json") for k, v in policy.severities.items()}
    teams = {
        t.id: TeamInfo(t.id, t.members, t.oncall, bool(t.slack_channel or t.teams_channel))
        for t in directory.teams.values()
    }
    return replace(
        directory,
        policy=policy,
        severities_json=json.dumps({"severities": severities}),
        paging_teams=teams,
    )


def _rank(member: TeamMember) -> int:
    return member.oncall_rank or 0


class DirectoryCache:
    """Holds the current `Directory` and replaces it when the config in force changes.

    `engine` is where it reads; without one (a `ComponentIndex()` built bare, in tests) each
    read borrows the caller's session. `clock` is injectable so tests can hold time still.
    """

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        check_every: float = CHECK_SECONDS,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._check_every = check_every
        self._lock = threading.Lock()
        self._current: Directory | None = None
        self._next_check = float("-inf")
        config_sync.on_synced(self.invalidate)

    def invalidate(self) -> None:
        """A revision was synced in this process: check the store on the next read."""
        self._next_check = float("-inf")

    def get(self, session: Session | None = None) -> Directory:
        """The directory in force; at most one revision check a second, none per request."""
        current = self._current
        if current is not None and self._clock() < self._next_check:
            return current
        # One reader checks; the others keep answering from the directory they have.
        if not self._lock.acquire(blocking=current is None):
            assert current is not None
            return current
        try:
            current = self._current
            now = self._clock()
            if current is not None and now < self._next_check:
                return current
            self._next_check = now + self._check_every
            return self._refresh(session, current)
        finally:
            self._lock.release()

    def _refresh(self, session: Session | None, current: Directory | None) -> Directory:
        if session is None:
            if self._engine is None:
                raise RuntimeError("DirectoryCache without an engine needs a session")
            with read_scope(self._engine) as own:
                return self._refresh(own, current)
        revision = newest_revision(session)
        if current is None or current.revision != revision:
            current = load_directory(session)
            self._current = current
        return current
