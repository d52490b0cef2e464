"""Writing outgoing messages as outbox rows, in the caller's own transaction.

A service that changes state (declares an incident, records a decision) enqueues the messages
that report it in the same session, so both commit together or neither does: a crash after
the commit loses no message, and a rollback sends none. The dispatcher delivers them later.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from launchops.messages.reply import Reply
from launchops.store.models import OutboxMessage
from launchops.store.types import utcnow

__all__ = [
    "DEAD",
    "ENQUEUED",
    "PENDING",
    "PRIORITY_BULK",
    "PRIORITY_INCIDENT",
    "PRIORITY_NORMAL",
    "PRIORITY_PAGE",
    "SENDING",
    "SENT",
    "enqueue",
    "outbox_table",
    "pending_count",
    "result_of",
]

PENDING: Final = "pending"  # waiting for its time (next_attempt_at), its dependency or its turn
SENDING: Final = "sending"  # claimed by a dispatcher until claimed_until
SENT: Final = "sent"  # delivered; `result` holds what the platform returned
DEAD: Final = "dead"  # given up; `last_error` says why

ENQUEUED: Final = "launchops.enqueued"
"""The `session.info` flag `enqueue` sets: the unit of work wakes the dispatcher after its
commit only when it queued something (services/incident_state.py)."""

# Claimed highest first, oldest first within a level (DESIGN.md §5 "Pages first"). The caller
# says what a message is: the outbox never guesses it from keys or kinds.
PRIORITY_PAGE: Final = 30  # a page or escalation to a person: someone must act now
PRIORITY_INCIDENT: Final = 20  # incident cards, their edits and thread notes
PRIORITY_NORMAL: Final = 10  # answers, approvals, reminders
PRIORITY_BULK: Final = 0  # digests and reports: may wait behind everything else

# SQLModel does not declare `__table__` to type checkers, though every table model has one.
outbox_table: Final[Table] = OutboxMessage.__table__  # type: ignore[attr-defined]
"""The Core table: the outbox is written and claimed with plain statements, not ORM objects."""


def enqueue(
    session: Session,
    *,
    platform: str,
    kind: str,
    destination: Mapping[str, Any],
    reply: Reply,
    dedupe_key: str | None = None,
    depends_on: int | None = None,
    ordering_key: str | None = None,
    locale: str = "en",
    not_before: datetime | None = None,
    priority: int = PRIORITY_NORMAL,
) -> int | None:
    """Add one message to the outbox inside `session`'s transaction; returns its id.

    With a `dedupe_key` that is already taken (a Slack retry, a double click, another
    replica), nothing is inserted and None is returned. `INSERT … ON CONFLICT DO NOTHING` is
    used rather than catching an IntegrityError because a failed INSERT aborts a PostgreSQL
    transaction, which would throw away the caller's state change along with the duplicate.

    `depends_on` names an earlier outbox row whose result this one needs (an `update` needs
    the `ts` of its `post`); `ordering_key` (e.g. one per thread) makes rows sharing it go out
    in id order; `not_before` delays the first attempt; `priority` (PRIORITY_*) decides
    which due rows are claimed first.
    """
    now = utcnow()
    values: dict[str, Any] = {
        "platform": platform,
        "kind": kind,
        "destination": dict(destination),
        "payload": reply.model_dump(mode="json"),
        "dedupe_key": dedupe_key,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "created_at": now,
        "depends_on": depends_on,
        "locale": locale,
        "ordering_key": ordering_key,
        "priority": priority,
    }
    statement = _insert_statement(session.get_bind().dialect.name)
    # On the session's connection, not through Session.execute: that would first flush the
    # objects the caller added (a P0's responders and card records, one INSERT each, per
    # row queued); left pending, they are flushed together, as batches, at the commit.
    new_id = session.connection().execute(statement, values).scalar_one_or_none()
    if new_id is not None:
        session.info[ENQUEUED] = True
    return None if new_id is None else int(new_id)


@functools.cache
def _insert_statement(dialect: str) -> ReturningInsert[Any]:
    """One conflict-free INSERT … RETURNING id per dialect, built once and run with each row's
    values as parameters: a statement built per row (a P0 queues hundreds) was keyed anew."""
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(outbox_table)
    elif dialect == "sqlite":
        statement = sqlite.insert(outbox_table)
    else:  # pragma: no cover - the store supports exactly these two
        raise NotImplementedError(f"outbox has no conflict-free insert for {dialect}")
    statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    return statement.returning(outbox_table.c.id)


def result_of(session: Session, outbox_id: int) -> dict[str, Any] | None:
    """What the platform returned for a sent row (e.g. Slack `ts`); None until it is sent."""
    result = session.execute(
        select(outbox_table.c.result).where(
            outbox_table.c.id == outbox_id, outbox_table.c.status == SENT
        )
    ).scalar_one_or_none()
    return dict(result) if result is not None else None


def pending_count(session: Session) -> int:
    """Rows not yet finished (pending or being sent): what a restart would still deliver."""
    count = session.execute(
        select(func.count())
        .select_from(outbox_table)
        .where(outbox_table.c.status.in_((PENDING, SENDING)))
    ).scalar_one()
    return int(count)
