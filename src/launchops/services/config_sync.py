"""Loading a validated config into the store, all at once or not at all."""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.config.models import OrgConfig, Policy
from launchops.services import audit
from launchops.services.catalog_upsert import apply_catalog
from launchops.store import session_scope
from launchops.store.models import ConfigRevision
from launchops.store.types import utcnow

# In-memory views of the catalog (services/directory.py) to tell when a revision lands here.
_listeners: list[weakref.WeakMethod[Callable[[], None]]] = []
_listeners_lock = threading.Lock()

# A PostgreSQL advisory lock key of its own (the migration and leader locks use others).
_SYNC_LOCK_KEY = 0x4C4F5359  # "LOSY"


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
    """Write the catalog as a diff in one transaction (services/catalog_upsert.py);
    unchanged config is a no-op."""
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
        if engine.dialect.name == "postgresql":
            # Replicas starting together on a new database would each insert the catalog
            # (duplicate people): one syncs, the others wait here and then find it done.
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SYNC_LOCK_KEY})
        latest = latest_revision(session)
        if latest is not None and latest.digest == digest:
            assert latest.id is not None
            return SyncResult(latest.id, False, counts)
        apply_catalog(session, config, utcnow())
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


def installed_at(session: Session) -> datetime | None:
    """When the organisation's first config revision was loaded: scheduled reports (the
    weekly digest, the monthly report) never cover a period that ended before it, so a new
    install does not greet its channels with reports of a time it did not see."""
    first: datetime | None = session.exec(
        select(ConfigRevision.loaded_at).order_by(col(ConfigRevision.id)).limit(1)
    ).first()
    return first


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
