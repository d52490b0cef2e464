"""Loading a validated config into the store, all at once or not at all."""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.config.loader import resolve_party
from launchops.config.models import OrgConfig, Policy
from launchops.domain.text import normalize_key
from launchops.services import audit
from launchops.store import session_scope
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

# Children first, so foreign keys hold at every step.
_TABLES_IN_DELETE_ORDER: tuple[type[Any], ...] = (
    ProjectComponent,
    Project,
    RaciAssignment,
    ComponentKey,
    Component,
    TeamMember,
    Team,
    Person,
)


# In-memory views of the catalog (services/directory.py) to tell when a revision lands here.
_listeners: list[weakref.WeakMethod[Callable[[], None]]] = []
_listeners_lock = threading.Lock()


def on_synced(callback: Callable[[], None]) -> None:
    """Call bound method `callback` after each new revision this process commits. Held
    weakly: a listener that is gone is dropped, never kept alive by this list."""
    with _listeners_lock:
        _listeners[:] = [ref for ref in _listeners if ref() is not None]
        _listeners.append(weakref.WeakMethod(callback))


def _notify() -> None:
    with _listeners_lock:
        callbacks = [ref() for ref in _listeners]
    for callback in callbacks:
        if callback is not None:
            callback()


@dataclass(frozen=True)
class SyncResult:
    revision: int
    changed: bool
    counts: dict[str, int]


def config_digest(config: OrgConfig) -> str:
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def sync_config(engine: Engine, config: OrgConfig, *, source: str, actor: str) -> SyncResult:
    """Replace the catalog in one transaction; unchanged config is a no-op."""
    result = _sync(engine, config, source=source, actor=actor)
    if result.changed:
        _notify()  # after the commit, so a listener reading the store sees the new revision
    return result


def _sync(engine: Engine, config: OrgConfig, *, source: str, actor: str) -> SyncResult:
    digest = config_digest(config)
    counts = {
        "people": len(config.catalog.people),
        "teams": len(config.catalog.teams),
        "components": len(config.catalog.components),
        "projects": len(config.catalog.projects),
    }
    with session_scope(engine) as session:
        latest = latest_revision(session)
        if latest is not None and latest.digest == digest:
            assert latest.id is not None
            return SyncResult(latest.id, False, counts)
        for table in _TABLES_IN_DELETE_ORDER:
            session.execute(delete(table))
        _insert_catalog(session, config)
        revision = ConfigRevision(
            digest=digest, source=source[:500], policy=config.policy.model_dump(mode="json")
        )
        session.add(revision)
        audit.record(
            session,
            actor=actor,
            action="config.synced",
            subject=source[:200],
            digest=digest,
            **counts,
        )
        session.flush()
        assert revision.id is not None
        return SyncResult(revision.id, True, counts)


def _insert_catalog(session: Session, config: OrgConfig) -> None:
    catalog = config.catalog
    session.add_all(
        Person(
            id=p.id,
            name=p.name,
            slack_id=p.slack,
            teams_id=p.teams,
            email=p.email,
            timezone=p.timezone,
            locale=p.locale,
        )
        for p in catalog.people
    )
    session.add_all(
        Team(id=t.id, name=t.name, slack_channel=t.channel.slack, teams_channel=t.channel.teams)
        for t in catalog.teams
    )
    session.flush()
    for team in catalog.teams:
        ranks = {person: rank for rank, person in enumerate(team.oncall)}
        # On-call people are members even when the file forgets to list them.
        for person in dict.fromkeys([*team.members, *team.oncall]):
            session.add(
                TeamMember(team_id=team.id, person_id=person, oncall_rank=ranks.get(person))
            )
    people = {p.id for p in catalog.people}
    teams = {t.id for t in catalog.teams}
    session.add_all(
        Component(
            id=c.id,
            name=c.name,
            area=c.area,
            classification=c.classification,
            runbook=c.runbook,
            description=c.description,
        )
        for c in catalog.components
    )
    session.flush()
    for component in catalog.components:
        keys: dict[str, str] = {}
        for text in (component.id, component.name, *component.aliases):
            keys.setdefault(normalize_key(text), text)
        session.add_all(
            ComponentKey(key=key, component_id=component.id, text=text)
            for key, text in keys.items()
        )
        raci = component.raci
        roles = [
            ("R", [raci.responsible]),
            ("A", [raci.accountable]),
            ("C", raci.consulted),
            ("I", raci.informed),
        ]
        for role, references in roles:
            for position, reference in enumerate(references):
                resolved = resolve_party(reference, people, teams)
                assert not isinstance(resolved, str), resolved  # load_config checked it
                session.add(
                    RaciAssignment(
                        component_id=component.id,
                        role=role,
                        party_kind=resolved[0],
                        party_id=resolved[1],
                        position=position,
                    )
                )
    session.add_all(
        Project(id=p.id, name=p.name, stage=p.stage, owner_id=p.owner) for p in catalog.projects
    )
    session.flush()
    for project in catalog.projects:
        session.add_all(
            ProjectComponent(project_id=project.id, component_id=c) for c in project.components
        )


def latest_revision(session: Session) -> ConfigRevision | None:
    """The config in force: the newest accepted revision, None before the first sync."""
    return session.exec(
        select(ConfigRevision).order_by(col(ConfigRevision.id).desc()).limit(1)
    ).first()


def current_policy(engine: Engine) -> Policy | None:
    """The policy of the config in force, or None before the first sync."""
    with session_scope(engine) as session:
        latest = latest_revision(session)
        return Policy.model_validate(latest.policy) if latest else None
