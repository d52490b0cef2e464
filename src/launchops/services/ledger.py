"""The change ledger: deployments and rollbacks recorded from the API and from chat, and read
back for incident cards, `incident status`, the weekly digest and the monthly report.

A deployment names its component by id, name or alias (an unknown one is refused with
suggestions, as failure cases are). A post with an `external_id` is stored once per
component: a retried post, or two replicas racing on it, both come back with the first id
(`ON CONFLICT DO NOTHING` on both backends, then the id is read). Texts people typed (the
description, an actor who is not a person of the catalog) are masked before a row is built.

Reads are one indexed query each (`(component_id, deployed_at)`): an incident declaration
reads its component's latest deployments before its first write, so the write lock never
waits on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import structlog
from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from launchops.domain.errors import BadCommand
from launchops.domain.incidents import IncidentView
from launchops.domain.ledger import DeploymentKind, DeploymentLine, web_url
from launchops.domain.masking import mask
from launchops.services.component_index import ComponentIndex
from launchops.services.directory import Directory
from launchops.services.failures import resolve_components
from launchops.store import read_scope, session_scope
from launchops.store.ledger_models import Deployment
from launchops.store.types import utcnow

__all__ = [
    "CARD_DEPLOYMENTS",
    "CHANGE_WINDOW",
    "LedgerService",
    "NewDeployment",
    "Recorded",
    "changes_before",
    "component_names",
    "deployments_between",
    "latest_deployments",
    "read_before_write",
    "with_deployments",
]

log = structlog.get_logger(__name__)

CARD_DEPLOYMENTS: Final = 3  # how many of a component's latest deployments a card lists
CHANGE_WINDOW: Final = timedelta(hours=1)  # `incident status`: the changes this long before
_READ_KEY: Final = "launchops.ledger.latest"  # session.info: component id → lines
_table = Deployment.__table__  # type: ignore[attr-defined]
_COLUMNS = (
    _table.c.id,
    _table.c.component_id,
    _table.c.version,
    _table.c.environment,
    _table.c.kind,
    _table.c.actor,
    _table.c.deployed_at,
    _table.c.rollback_url,
    _table.c.url,
)


# Built once: every declaration on a component reads its deployments for the card, and
# building and caching the statement each time cost ~0.4 ms of CPU per declaration.
_LATEST_FOR_COMPONENT = (
    select(*_COLUMNS)
    .where(_table.c.component_id == bindparam("component"))
    .order_by(_table.c.deployed_at.desc(), _table.c.id.desc())
    .limit(bindparam("limit"))
)


@dataclass(frozen=True)
class NewDeployment:
    """A deployment as given; `component` is an id, name or alias, `actor` a person's id or
    name, or any text (a pipeline's name)."""

    component: str
    version: str
    environment: str = "production"
    kind: DeploymentKind = "deploy"
    deployed_at: datetime | None = None
    url: str | None = None
    rollback_url: str | None = None
    actor: str | None = None
    description: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class Recorded:
    id: int
    duplicate: bool  # the external id was stored before: nothing new was written
    line: DeploymentLine


class LedgerService:
    def __init__(
        self, engine: Engine, index: ComponentIndex, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._engine = engine
        self._index = index
        self._clock = clock

    def record(
        self, new: NewDeployment, *, source: str = "api", person_id: str | None = None
    ) -> Recorded:
        """Store one deployment (once per external id); raises UnknownComponents."""
        (component_id,) = resolve_components(self._index, [new.component])
        for url in (new.url, new.rollback_url):
            if url is not None and not web_url(url):
                raise BadCommand("ledger.error.bad_url")
        directory = self._index.directory.get()
        now = self._clock()
        actor, person = _actor(directory, new.actor, person_id)
        row: dict[str, Any] = {
            "component_id": component_id,
            "version": new.version[:200],
            "environment": new.environment,
            "kind": new.kind,
            "actor": actor,
            "person_id": person,
            "deployed_at": _aware(new.deployed_at, now),
            "recorded_at": now,
            "url": new.url,
            "rollback_url": new.rollback_url,
            "description": mask(new.description) if new.description else None,
            "external_id": new.external_id,
            "source": source,
        }
        with session_scope(self._engine) as session:
            new_id, duplicate = _insert(session, row)
            stored = session.execute(select(*_COLUMNS).where(_table.c.id == new_id)).one()
        line = _line(stored, component_names(directory), now)
        log.info(
            "ledger.recorded",
            deployment=new_id,
            component=component_id,
            kind=new.kind,
            duplicate=duplicate,
            source=source,
        )
        return Recorded(new_id, duplicate, line)

    def latest(self, component_id: str) -> tuple[DeploymentLine, ...]:
        with read_scope(self._engine) as session:
            names = component_names(self._index.directory.get(session))
            return latest_deployments(session, names, component_id, self._clock())


def latest_deployments(
    session: Session,
    names: Mapping[str, str],
    component_id: str | None,
    now: datetime,
    limit: int = CARD_DEPLOYMENTS,
) -> tuple[DeploymentLine, ...]:
    """A component's latest deployments and rollbacks, newest first: one indexed query.
    `names` maps component ids to names (a missing one is shown by its id)."""
    if component_id is None:
        return ()
    rows = (
        session.connection()
        .execute(_LATEST_FOR_COMPONENT, {"component": component_id, "limit": limit})
        .all()
    )
    return tuple(_line(row, names, now) for row in rows)


def read_before_write(
    session: Session, component_id: str | None, name: str | None, now: datetime
) -> tuple[DeploymentLine, ...]:
    """Read a component's latest deployments into the session, for the cards its transaction
    will draw (`with_deployments`): a declaration calls this before its first write, so the
    query never runs while the write lock is held."""
    if component_id is None:
        return ()
    cache: dict[str, tuple[DeploymentLine, ...]] = session.info.setdefault(_READ_KEY, {})
    lines = cache.get(component_id)
    if lines is None:
        lines = latest_deployments(session, {component_id: name or component_id}, component_id, now)
        cache[component_id] = lines
    return lines


def with_deployments(session: Session, view: IncidentView, now: datetime) -> IncidentView:
    """`view` with its component's latest deployments: those read before the transaction's
    first write when there are (`read_before_write`), else one indexed query."""
    if view.component_id is None:
        return view
    lines = read_before_write(session, view.component_id, view.component_name, now)
    return replace(view, deployments=lines) if lines else view


def deployments_between(
    session: Session,
    names: Mapping[str, str],
    component_ids: Sequence[str],
    start: datetime,
    end: datetime,
    limit: int = 200,
) -> list[DeploymentLine]:
    """The deployments of `component_ids` in `[start, end)`, oldest first."""
    if not component_ids:
        return []
    rows = session.execute(
        select(*_COLUMNS)
        .where(
            _table.c.component_id.in_(list(component_ids)),
            _table.c.deployed_at >= start,
            _table.c.deployed_at < end,
        )
        .order_by(_table.c.deployed_at, _table.c.id)
        .limit(limit)
    ).all()
    return [_line(row, names, end) for row in rows]


def changes_before(
    session: Session, names: Mapping[str, str], component_id: str | None, moment: datetime
) -> tuple[DeploymentLine, ...]:
    """The changes to a component in the hour before `moment` (and at it), newest first."""
    if component_id is None:
        return ()
    lines = deployments_between(
        session, names, [component_id], moment - CHANGE_WINDOW, moment + timedelta(seconds=1)
    )
    return tuple(replace(line, ago=moment - line.at) for line in reversed(lines))


def component_names(directory: Directory) -> dict[str, str]:
    return {cid: c.name for cid, c in directory.components.items()}


def _line(row: Any, names: Mapping[str, str], now: datetime) -> DeploymentLine:
    return DeploymentLine(
        id=int(row.id),
        component_id=row.component_id,
        component_name=names.get(row.component_id, row.component_id),
        version=row.version,
        environment=row.environment,
        kind=row.kind,
        by=row.actor,
        at=row.deployed_at,
        rollback_url=row.rollback_url,
        url=row.url,
        ago=max(timedelta(0), now - row.deployed_at),
    )


def _actor(
    directory: Directory, given: str | None, person_id: str | None
) -> tuple[str | None, str | None]:
    """(the name shown, the person's id): a catalog person by id or name, else masked text."""
    if person_id is not None and person_id in directory.people:
        return directory.people[person_id].name, person_id
    if not given or not given.strip():
        return None, person_id
    text = given.strip()
    if text in directory.people:
        return directory.people[text].name, text
    folded = text.casefold()
    for person in directory.people.values():
        if person.name.casefold() == folded:
            return person.name, person.id
    return mask(text)[:200], person_id


def _aware(moment: datetime | None, now: datetime) -> datetime:
    if moment is None:
        return now
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _insert(session: Session, row: dict[str, Any]) -> tuple[int, bool]:
    """The row's id, and whether its external id was stored before."""
    if row["external_id"] is None:
        statement = insert(_table).returning(_table.c.id)
        return int(session.execute(statement, row).scalar_one()), False
    existing = _by_external(session, row["component_id"], row["external_id"])
    if existing is not None:
        return existing, True
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(_table).on_conflict_do_nothing(
        index_elements=["component_id", "external_id"]
    )
    inserted = session.execute(statement.returning(_table.c.id), row).scalar_one_or_none()
    if inserted is not None:
        return int(inserted), False
    found = _by_external(session, row["component_id"], row["external_id"])
    assert found is not None, "a conflicting row exists once the insert skipped"
    return found, True


def _by_external(session: Session, component_id: str, external_id: str) -> int | None:
    found = session.execute(
        select(_table.c.id).where(
            _table.c.component_id == component_id, _table.c.external_id == external_id
        )
    ).scalar_one_or_none()
    return int(found) if found is not None else None
