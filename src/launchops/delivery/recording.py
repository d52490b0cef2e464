"""Writing what happened to claimed rows: sent, retry later, dead, or handed back untried.

Outcomes are decided by the workers that send and written by the dispatcher's coordinating
thread, several in one transaction: one commit per message would cost about as much as the
HTTP call it records. Each write is still fenced by the row's lease (`claimed_until`), so a
dispatcher that stalled past its lease never overwrites the work of the one that took the
row over, however its outcomes are grouped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import structlog
from sqlalchemy import Update, bindparam, update
from sqlalchemy.engine import Engine

from launchops.delivery.claims import ClaimedDelivery, truncate
from launchops.delivery.metrics import DELIVERIES, LAG_SECONDS
from launchops.delivery.outbox import DEAD, PENDING, SENDING, SENT, outbox_table
from launchops.store.db import write_lock

__all__ = ["Outcome", "Recorder"]

log = structlog.get_logger(__name__)

_o = outbox_table

SENT_EVENT: Final = "sent"
RETRY_EVENT: Final = "retry"
DEAD_EVENT: Final = "dead"
RELEASED_EVENT: Final = "released"  # handed back without an attempt: no sender, paced, gated


@dataclass(frozen=True)
class Outcome:
    """One claimed row's fate: the values to write and what to log once they are written.

    Every event but `released` also counts an attempt (`attempts + 1`, done in SQL).
    """

    delivery: ClaimedDelivery
    event: str
    values: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)  # log fields (never message text)

    @classmethod
    def sent(cls, delivery: ClaimedDelivery, result: dict[str, Any], now: datetime) -> Outcome:
        values = {
            "status": SENT,
            "sent_at": now,
            "result": dict(result or {}),
            "claimed_until": None,
        }
        return cls(delivery, SENT_EVENT, values)

    @classmethod
    def retry(
        cls,
        delivery: ClaimedDelivery,
        reason: str,
        due: datetime,
        delay: float,
        *,
        trace: BaseException | None = None,
    ) -> Outcome:
        """`trace`: an unexpected exception, logged with its traceback when written."""
        values = {
            "status": PENDING,
            "next_attempt_at": due,
            "claimed_until": None,
            "last_error": truncate(reason),
        }
        detail = {"delay_seconds": round(delay, 3), "reason": reason, "exc_info": trace or False}
        return cls(delivery, RETRY_EVENT, values, detail)

    @classmethod
    def dead(cls, delivery: ClaimedDelivery, error: str) -> Outcome:
        values = {
            "status": DEAD,
            "claimed_until": None,
            "last_error": truncate(error),
        }
        return cls(delivery, DEAD_EVENT, values, {"error": error})

    @classmethod
    def released(
        cls,
        delivery: ClaimedDelivery,
        *,
        last_error: str | None = None,
        due: datetime | None = None,
    ) -> Outcome:
        """Back to pending with no attempt counted: the row itself did nothing wrong."""
        values: dict[str, Any] = {"status": PENDING, "claimed_until": None}
        if last_error is not None:
            values["last_error"] = truncate(last_error)
        if due is not None:
            values["next_attempt_at"] = due
        return cls(delivery, RELEASED_EVENT, values, {"reason": last_error})


@functools.cache
def _fenced_update(columns: tuple[str, ...], *, counted: bool) -> Update:
    """One prepared statement per shape of outcome: building and caching a fresh statement
    for every row cost more CPU than the send it recorded."""
    values: dict[str, Any] = {column: bindparam(column) for column in columns}
    if counted:
        values["attempts"] = _o.c.attempts + 1
    return (
        update(_o)
        .where(
            _o.c.id == bindparam("fence_id"),
            _o.c.status == SENDING,
            _o.c.claimed_until == bindparam("fence_lease", type_=_o.c.claimed_until.type),
        )
        .values(values)
    )


class _LeaseLost(Exception):
    """Some row of a batch is no longer ours: write that batch row by row instead."""


def _statement(outcome: Outcome) -> Update:
    return _fenced_update(tuple(outcome.values), counted=outcome.event != RELEASED_EVENT)


def _parameters(outcome: Outcome) -> dict[str, Any]:
    delivery = outcome.delivery
    return {"fence_id": delivery.id, "fence_lease": delivery.claimed_until, **outcome.values}


class Recorder:
    """Writes outcomes, fenced by each row's lease, and tells metrics, logs and `on_dead`."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        on_dead: Callable[[int, str], None] | None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._on_dead = on_dead

    def record(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """One transaction for all of `outcomes`; True for each written (lease still ours)."""
        if not outcomes:
            return []
        written = self._write_together(outcomes) or self._write_each(outcomes)
        for outcome, ok in zip(outcomes, written, strict=True):
            if ok:
                self._announce(outcome)
            else:
                delivery = outcome.delivery
                log.warning(
                    "outbox.claim_lost",
                    outbox_id=delivery.id,
                    platform=delivery.platform,
                    attempt=delivery.attempt,
                )
        return written

    def _write_together(self, outcomes: Sequence[Outcome]) -> list[bool] | None:
        """The usual case: every lease still ours. One executemany per shape of outcome; if
        any row's fence fails the whole transaction is rolled back (None) and written row
        by row instead, so each row's result is known exactly."""
        if len(outcomes) == 1 or not self._engine.dialect.supports_sane_multi_rowcount:
            return None
        shapes: dict[Update, list[dict[str, Any]]] = {}
        for outcome in outcomes:
            shapes.setdefault(_statement(outcome), []).append(_parameters(outcome))
        try:
            with write_lock(self._engine), self._engine.begin() as conn:
                for statement, parameters in shapes.items():
                    if conn.execute(statement, parameters).rowcount != len(parameters):
                        raise _LeaseLost  # leaves the block: the transaction rolls back
        except _LeaseLost:
            return None
        return [True] * len(outcomes)

    def _write_each(self, outcomes: Sequence[Outcome]) -> list[bool]:
        with write_lock(self._engine), self._engine.begin() as conn:
            return [
                conn.execute(_statement(outcome), _parameters(outcome)).rowcount == 1
                for outcome in outcomes
            ]

    def _announce(self, outcome: Outcome) -> None:
        delivery, detail = outcome.delivery, outcome.detail
        fields = {"outbox_id": delivery.id, "platform": delivery.platform}
        if outcome.event == RELEASED_EVENT:
            if detail.get("reason"):
                log.info("outbox.held_back", **fields, reason=detail["reason"])
            return
        DELIVERIES.labels(platform=delivery.platform, outcome=outcome.event).inc()
        if outcome.event == SENT_EVENT:
            sent_at = outcome.values["sent_at"]
            if delivery.created_at is not None:
                lag = max(0.0, (sent_at - delivery.created_at).total_seconds())
                LAG_SECONDS.labels(platform=delivery.platform).observe(lag)
            log.info("outbox.sent", **fields, kind=delivery.kind, attempt=delivery.attempt)
        elif outcome.event == RETRY_EVENT:
            log.warning("outbox.retry", **fields, attempt=delivery.attempt, **detail)
        else:
            log.error("outbox.dead", **fields, attempt=delivery.attempt, **detail)
            self._tell_dead(delivery.id, detail["error"])

    def _tell_dead(self, outbox_id: int, error: str) -> None:
        if self._on_dead is None:
            return
        try:
            self._on_dead(outbox_id, error)
        except Exception:  # the row is recorded dead either way; never kill the loop
            log.exception("outbox.on_dead_failed", outbox_id=outbox_id)
