"""Writing incident state: units of work, compare-and-set updates, effects after commit.

Shared by the incident service and the escalator. Every change is a compare-and-set
(`… WHERE status IN (…) AND escalation_step = n`), so a double click, a retried request or a
second replica finds the work already done instead of doing it twice; metrics are counted
only once the transaction that made the change has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from launchops.delivery import outbox
from launchops.store import session_scope
from launchops.store.models import Incident

__all__ = ["OPEN_STATES", "after_commit", "compare_and_set", "unit_of_work"]

OPEN_STATES = ("open", "acknowledged")
_AFTER_COMMIT = "launchops.after_commit"


@contextmanager
def unit_of_work(engine: Engine, on_enqueue: Callable[[], None]) -> Iterator[Session]:
    """One transaction; then the effects registered with `after_commit`, then, if it wrote
    outbox rows, the wakeup that tells the dispatcher they are there.

    Only then: a woken dispatcher looks for due rows at once, and doing that after every
    declaration that queued nothing (a P3) cost more CPU than the declaration itself."""
    with session_scope(engine) as session:
        yield session
        effects: list[Callable[[], None]] = session.info.pop(_AFTER_COMMIT, [])
        enqueued = session.info.pop(outbox.ENQUEUED, False)
    for effect in effects:
        effect()
    if enqueued:
        on_enqueue()


def after_commit(session: Session, effect: Callable[[], None]) -> None:
    """Run `effect` once `session` has committed (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(effect)


def compare_and_set(
    session: Session,
    incident: Incident,
    allowed: tuple[str, ...],
    *,
    expect_step: int | None = None,
    also: ColumnElement[bool] | None = None,
    **values: Any,
) -> bool:
    """Apply `values` only if the incident is still in `allowed` (and at `expect_step`, and
    `also` holds); True when this call made the change."""
    statement = update(Incident).where(
        col(Incident.id) == incident.id, col(Incident.status).in_(allowed)
    )
    if expect_step is not None:
        statement = statement.where(col(Incident.escalation_step) == expect_step)
    if also is not None:
        statement = statement.where(also)
    result = session.execute(
        statement.values(**values).execution_options(synchronize_session=False)
    )
    session.refresh(incident)
    return bool(getattr(result, "rowcount", 0))
