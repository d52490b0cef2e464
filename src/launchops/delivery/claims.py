"""The statements behind a claim: which rows are due, and what to do with unsendable ones.

Every replica claims from the same table. Candidates are read (on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so concurrent claimers pass each other by) and each is taken with a
compare-and-set UPDATE that succeeds only if the row is still as it was read: on SQLite,
which has no row locks, that check alone keeps two claimers from taking one row.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import structlog
from pydantic import ValidationError
from sqlalchemy import (
    Integer,
    Row,
    Select,
    Text,
    Update,
    and_,
    bindparam,
    cast,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from launchops.delivery.outbox import DEAD, PENDING, SENDING, SENT, outbox_table
from launchops.delivery.sender import Delivery
from launchops.messages.reply import Reply

__all__ = [
    "ClaimedDelivery",
    "bury_orphans",
    "dead_values",
    "dependency_results",
    "due_rows",
    "note_missing_senders",
    "parse_reply",
    "take",
    "truncate",
]

log = structlog.get_logger(__name__)

_o = outbox_table
# What a claim reads: not `result` nor `last_error`, and the payload as text (due_rows).
CLAIMED_COLUMNS: Final = tuple(
    _o.c[name]
    for name in (
        "id", "platform", "kind", "destination", "status", "attempts", "claimed_until",
        "created_at", "depends_on", "locale", "priority",
    )
)  # fmt: skip
MAX_ERROR_CHARS: Final = 2000  # the width of outboxmessage.last_error
# Built once, with the ids as one expanding parameter: a statement built per claim with its
# ids inlined was keyed and compiled anew every time.
_TAKE_PENDING: Final = (
    update(_o)
    .where(
        _o.c.id.in_(bindparam("ids", expanding=True)),
        _o.c.status == PENDING,
        _o.c.claimed_until.is_(None),
    )
    .values(status=SENDING, claimed_until=bindparam("lease", type_=_o.c.claimed_until.type))
    .returning(_o.c.id)
)


@dataclass(frozen=True, repr=False)
class ClaimedDelivery(Delivery):
    """A Delivery as `claim_due` hands it out: with the lease that proves the claim is ours.

    `attempt` is the number of this attempt (1 for the first). Senders see a plain Delivery.
    """

    claimed_until: datetime | None = None
    created_at: datetime | None = None
    priority: int = 0

    def __repr__(self) -> str:
        # Tracebacks that show locals (structlog/rich do) must not print the message text.
        return (
            f"ClaimedDelivery(id={self.id}, platform={self.platform!r}, kind={self.kind!r}, "
            f"attempt={self.attempt})"
        )


def parse_reply(payload: Any) -> Reply | str:
    """The stored Reply, or why it is not one (naming fields only: no message text).

    `payload` is the column's JSON text (see due_rows), parsed by pydantic in one step."""
    try:
        if isinstance(payload, str | bytes):
            return Reply.model_validate_json(payload)
        return Reply.model_validate(payload)
    except ValidationError as exc:
        places = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        return f"payload is not a valid Reply (at {places or 'top level'})"


def locked(query: Select[Any], lock_rows: bool) -> Select[Any]:
    """PostgreSQL: lock what we read and skip rows another claimer holds (SQLite: no-op)."""
    return query.with_for_update(skip_locked=True, of=_o) if lock_rows else query


def due_rows(platforms: Collection[str]) -> Select[Any]:
    """Due rows, highest priority first, then oldest: a page never waits behind a digest.

    Built once per dispatcher and run with `now` and `limit` parameters: constructing and
    compiling it for every claim cost more than running it.

    Due: `pending` whose time has come, or `sending` whose lease ran out (its claimer
    crashed); and not waiting for a dependency that is not yet sent, nor behind an older
    unfinished row with the same `ordering_key` (so at most one row of a thread is out).
    """
    dependency = _o.alias("dependency")
    earlier = _o.alias("earlier")
    dependency_sent = exists().where(
        dependency.c.id == _o.c.depends_on, dependency.c.status == SENT
    )
    # NULL = NULL is not true, so rows without an ordering_key never wait here.
    behind_earlier = exists().where(
        earlier.c.ordering_key == _o.c.ordering_key,
        earlier.c.id < _o.c.id,
        earlier.c.status.in_((PENDING, SENDING)),
    )
    now = bindparam("now", type_=_o.c.next_attempt_at.type)
    return (
        select(*CLAIMED_COLUMNS, cast(_o.c.payload, Text).label("payload"))
        .where(
            _o.c.platform.in_(list(platforms)),
            or_(
                and_(_o.c.status == PENDING, _o.c.next_attempt_at <= now),
                and_(_o.c.status == SENDING, _o.c.claimed_until < now),
            ),
            or_(_o.c.depends_on.is_(None), dependency_sent),
            ~behind_earlier,
        )
        .order_by(_o.c.priority.desc(), _o.c.id)
        .limit(bindparam("limit", type_=Integer()))
    )


def take(conn: Connection, rows: Sequence[Row[Any]], lease: datetime) -> list[Row[Any]]:
    """Claim the rows nobody changed since we read them. Pending rows (nearly all) are taken
    by one compare-and-set UPDATE … RETURNING; rows with an expired lease one by one."""
    fresh = [r.id for r in rows if r.status == PENDING and r.claimed_until is None]
    taken: set[int] = set()
    if fresh:
        taken.update(conn.execute(_TAKE_PENDING, {"ids": fresh, "lease": lease}).scalars())
    for row in rows:
        if row.id not in fresh and _take_one(conn, row, lease):
            taken.add(row.id)
    return [row for row in rows if row.id in taken]


def _take_one(conn: Connection, row: Row[Any], lease: datetime) -> bool:
    """Compare-and-set: claim `row` only if nobody changed it since we read it."""
    taken = conn.execute(
        update(_o)
        .where(
            _o.c.id == row.id,
            _o.c.status == row.status,
            _o.c.claimed_until.is_not_distinct_from(row.claimed_until),
        )
        .values(status=SENDING, claimed_until=lease)
    )
    return taken.rowcount == 1


def dependency_results(
    conn: Connection, rows: Sequence[Row[Any]]
) -> dict[int, dict[str, Any] | None]:
    wanted = {row.depends_on for row in rows if row.depends_on is not None}
    if not wanted:
        return {}
    found = conn.execute(select(_o.c.id, _o.c.result).where(_o.c.id.in_(wanted)))
    return {row.id: row.result for row in found}


def truncate(text: str) -> str:
    """Fit an error into outboxmessage.last_error."""
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def dead_values(statement: Update, error: str) -> Update:
    return statement.values(status=DEAD, claimed_until=None, last_error=truncate(error))


def bury_orphans(conn: Connection, limit: int, lock_rows: bool) -> list[tuple[int, str, str]]:
    """Pending rows whose dependency is dead (or missing) can never be sent: mark them dead."""
    dependency = _o.alias("dependency")
    alive = exists().where(dependency.c.id == _o.c.depends_on, dependency.c.status != DEAD)
    orphans = conn.execute(
        locked(
            select(_o.c.id, _o.c.platform, _o.c.depends_on)
            .where(_o.c.status == PENDING, _o.c.depends_on.is_not(None), ~alive)
            .order_by(_o.c.id)
            .limit(limit),
            lock_rows,
        )
    ).all()
    buried = []
    for row in orphans:
        error = f"dependency outbox #{row.depends_on} is dead or missing"
        pending = update(_o).where(_o.c.id == row.id, _o.c.status == PENDING)
        if conn.execute(dead_values(pending, error)).rowcount == 1:
            buried.append((row.id, row.platform, error))
    return buried


def note_missing_senders(
    conn: Connection, platforms: Collection[str], limit: int, lock_rows: bool
) -> None:
    """Say on the row why it waits: no adapter for its platform is configured here.

    Such rows are never claimed by this dispatcher (so they cannot crowd out the rows it
    can send) and stay pending for a replica, or a later start, that has the sender.
    """
    unnoted = conn.execute(
        locked(
            select(_o.c.id, _o.c.platform)
            .where(
                _o.c.status == PENDING,
                _o.c.platform.not_in(platforms),
                or_(_o.c.last_error.is_(None), _o.c.last_error.not_like("no sender for %")),
            )
            .limit(limit),
            lock_rows,
        )
    ).all()
    for row in unnoted:
        conn.execute(
            update(_o)
            .where(_o.c.id == row.id, _o.c.status == PENDING)
            .values(last_error=f"no sender for {row.platform}")
        )
        log.warning("outbox.no_sender", outbox_id=row.id, platform=row.platform)
