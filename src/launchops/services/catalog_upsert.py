"""Writing a validated catalog into the store as a diff, so history keeps pointing somewhere.

Incidents name components and teams, gate requests name projects, and a project's current
stage is a launch decision: a config sync must neither delete the rows they point at nor undo
the decision. So people, teams, components and projects are upserted by id, and one that
left the config is *retired* (`retired_at` set; lookups skip it) rather than deleted; it comes
back if the config names it again. The derived rows — memberships, aliases, RACI lines, a
project's components — belong wholly to the config and are rewritten.

A project's stage is seeded once, from `stage` and `stage_entered`, when the project is
first seen; after that only a passed gate moves it (`ProjectStage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from launchops.config.loader import resolve_party
from launchops.config.models import OrgConfig
from launchops.store.gate_models import ProjectStage
from launchops.store.models import (
    Component,
    ComponentKey,
    Person,
    Project,
    ProjectComponent,
    RaciAssignment,
    Team,
    TeamMember,
)
from launchops.text import normalize_key

__all__ = ["apply_catalog", "stage_disagreements"]

# Children first: these are rewritten from the config on every sync.
_DERIVED: tuple[type[Any], ...] = (ProjectComponent, RaciAssignment, ComponentKey, TeamMember)


def apply_catalog(session: Session, config: OrgConfig, now: datetime) -> None:
    catalog = config.catalog
    for table in _DERIVED:
        session.execute(delete(table))
    people = {
        p.id: {
            "name": p.name,
            "slack_id": p.slack,
            "teams_id": p.teams,
            "email": p.email,
            "timezone": p.timezone,
            "locale": p.locale,
        }
        for p in catalog.people
    }
    # A retired person keeps no chat ids: they are unique, and may be someone else's next.
    _upsert(session, Person, people, now, retired_values={"slack_id": None, "teams_id": None})
    teams = {
        t.id: {"name": t.name, "slack_channel": t.channel.slack, "teams_channel": t.channel.teams}
        for t in catalog.teams
    }
    _upsert(
        session, Team, teams, now, retired_values={"slack_channel": None, "teams_channel": None}
    )
    components = {
        c.id: {
            "name": c.name,
            "area": c.area,
            "classification": c.classification,
            "runbook": c.runbook,
            "description": c.description,
        }
        for c in catalog.components
    }
    _upsert(session, Component, components, now)
    projects = {
        p.id: {"name": p.name, "stage": p.stage, "owner_id": p.owner, "sponsor_id": p.sponsor}
        for p in catalog.projects
    }
    _upsert(session, Project, projects, now)
    session.flush()
    _insert_derived(session, config)
    _seed_stages(session, config, now)


def _upsert(
    session: Session,
    model: type[Any],
    wanted: Mapping[str, dict[str, Any]],
    now: datetime,
    *,
    retired_values: Mapping[str, Any] | None = None,
) -> None:
    existing = {row.id: row for row in session.exec(select(model)).all()}
    if retired_values:
        # Free unique chat ids before anyone takes them over in this same sync.
        gone = [ident for ident in existing if ident not in wanted]
        if gone:
            session.execute(
                update(model)
                .where(col(model.id).in_(gone))
                .values(**retired_values)
                .execution_options(synchronize_session="fetch")
            )
            session.flush()
    for ident, row in existing.items():
        if ident not in wanted and row.retired_at is None:
            row.retired_at = now
            session.add(row)
    session.flush()
    for ident, values in wanted.items():
        row = existing.get(ident)
        if row is None:
            session.add(model(id=ident, **values))
            continue
        for name, value in values.items():
            setattr(row, name, value)
        row.retired_at = None
        session.add(row)
    session.flush()


def _insert_derived(session: Session, config: OrgConfig) -> None:
    catalog = config.catalog
    for team in catalog.teams:
        ranks = {person: rank for rank, person in enumerate(team.oncall)}
        # On-call people are members even when the file forgets to list them.
        for person in dict.fromkeys([*team.members, *team.oncall]):
            session.add(
                TeamMember(team_id=team.id, person_id=person, oncall_rank=ranks.get(person))
            )
    people = {p.id for p in catalog.people}
    teams = {t.id for t in catalog.teams}
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
    for project in catalog.projects:
        session.add_all(
            ProjectComponent(project_id=project.id, component_id=c) for c in project.components
        )


def _seed_stages(session: Session, config: OrgConfig, now: datetime) -> None:
    seeded = set(session.exec(select(ProjectStage.project_id)).all())
    for project in config.catalog.projects:
        if project.id in seeded:
            continue  # gates own it from here
        entered = (
            datetime.combine(project.stage_entered, time.min, tzinfo=UTC)
            if project.stage_entered
            else now
        )
        session.add(ProjectStage(project_id=project.id, stage=project.stage, entered_at=entered))


def stage_disagreements(session: Session, config: OrgConfig) -> list[tuple[int, str, str]]:
    """(index in `projects`, the file's stage, the stored stage) where they differ: the file
    only gives a starting point, so this is worth a warning, never an error."""
    stored = {row.project_id: row.stage for row in session.exec(select(ProjectStage)).all()}
    return [
        (index, project.stage, stored[project.id])
        for index, project in enumerate(config.catalog.projects)
        if project.id in stored and stored[project.id] != project.stage
    ]
