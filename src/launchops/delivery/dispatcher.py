"""Delivering outbox rows: claim them, hand them to the platform's Sender, record the outcome.

Every replica runs a Dispatcher over the same database, so a row is first *claimed*: set to
`sending` with a lease, `claimed_until`. Candidates are read (on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so concurrent claimers pass each other by) and each is taken with a
compare-and-set UPDATE that only succeeds if the row is still as it was read: on SQLite,
where there are no row locks, that check alone keeps two claimers from taking one row. The
lease doubles as a fencing token: after sending, the outcome is written only if the row still
carries our `claimed_until`, so a dispatcher that stalled past its lease cannot overwrite the
work of the one that took the row over. A crashed claimer's rows come back when the lease
runs out, so delivery is at-least-once: a message goes out twice only if a send outlives
`claim_ttl` or the process dies between sending and recording. Keep `claim_ttl` well above
the senders' HTTP timeouts.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import structlog
from pydantic import ValidationError
from sqlalchemy import Row, Select, Update, and_, exists, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from launchops.delivery.metrics import DELIVERIES, DELIVERY_SECONDS, LAG_SECONDS
from launchops.delivery.outbox import DEAD, PENDING, SENDING, SENT, outbox_table
from launchops.delivery.sender import Delivery, PermanentFailure, RetryLater, Sender
from launchops.messages.reply import Reply
from launchops.store.db import write_lock
from launchops.store.types import utcnow

__all__ = ["ClaimedDelivery", "Dispatcher"]

log = structlog.get_logger(__name__)

MAX_ERROR_CHARS: Final = 2000  # the width of outboxmessage.last_error

_o = outbox_table


@dataclass(frozen=True, repr=False)
class ClaimedDelivery(Delivery):
    """A Delivery as `claim_due` hands it out: with the lease that proves the claim is ours.

    `attempt` is the number of this attempt (1 for the first). Senders see a plain Delivery.
    """

    claimed_until: datetime | None = None
    created_at: datetime | None = None

    def __repr__(self) -> str:
        # Tracebacks that show locals (structlog/rich do) must not print the message text.
        return (
            f"ClaimedDelivery(id={self.id}, platform={self.platform!r}, kind={self.kind!r}, "
            f"attempt={self.attempt})"
        )


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


class Dispatcher:
    """Claims due outbox rows and delivers them, from a background thread or on demand."""

    def __init__(
        self,
        engine: Engine,
        senders: Mapping[str, Sender],
        *,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = 10,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        claim_ttl: float = 60.0,
        batch_size: int = 50,
        poll_interval: float = 1.0,
        rng: random.Random | None = None,
        on_dead: Callable[[int, str], None] | None = None,
    ) -> None:
        """`on_dead(outbox_id, error)` is told of each row a sender refused for good (or that
        ran out of attempts), once, after that is recorded: how an undeliverable page reaches
        the incident it belongs to without the outbox knowing about incidents."""
        if max_attempts < 1 or batch_size < 1:
            raise ValueError("max_attempts and batch_size must be at least 1")
        if claim_ttl <= 0 or poll_interval <= 0 or base_delay < 0 or max_delay < 0:
            raise ValueError("claim_ttl and poll_interval must be positive, delays not negative")
        self._engine = engine
        self._senders = dict(senders)
        self._clock = clock
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._claim_ttl = timedelta(seconds=claim_ttl)
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._rng = rng or random.Random()  # jitter needs spread, not secrecy
        self._on_dead = on_dead
        self._lock_rows = engine.dialect.name == "postgresql"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- claiming -------------------------------------------------------------------------

    def claim_due(self, limit: int | None = None) -> list[Delivery]:
        """Take up to `limit` due rows for this dispatcher's platforms, oldest first.

        Due: `pending` whose time has come, or `sending` whose lease ran out (its claimer
        crashed); and not waiting for a dependency that is not yet sent, nor behind an older
        unfinished row with the same `ordering_key`. Rows whose dependency died are buried.
        """
        limit = limit or self._batch_size
        now = self._clock()
        lease = now + self._claim_ttl
        with write_lock(self._engine), self._engine.begin() as conn:
            buried = self._bury_orphans(conn, limit)
            self._note_missing_senders(conn, limit)
            seen = conn.execute(self._locked(self._due_rows(now, limit))).all()
            taken = [row for row in seen if self._take(conn, row, lease)]
            results = self._dependency_results(conn, taken)
            deliveries: list[Delivery] = []
            for row in taken:
                reply = self._parse_reply(row.payload)
                if isinstance(reply, str):  # written by an incompatible version: unsendable
                    conn.execute(self._dead_values(update(_o).where(_o.c.id == row.id), reply))
                    buried.append((row.id, row.platform, reply))
                    continue
                extra: dict[str, Any] = {}
                if row.depends_on is not None:
                    extra["depends_on_result"] = results.get(row.depends_on)
                deliveries.append(
                    ClaimedDelivery(
                        id=row.id,
                        platform=row.platform,
                        kind=row.kind,
                        destination=dict(row.destination),
                        reply=reply,
                        attempt=row.attempts + 1,
                        locale=row.locale,
                        extra=extra,
                        claimed_until=lease,
                        created_at=row.created_at,
                    )
                )
        for outbox_id, platform, error in buried:
            DELIVERIES.labels(platform=platform, outcome="dead").inc()
            log.error("outbox.dead", outbox_id=outbox_id, platform=platform, error=error)
        return deliveries

    @staticmethod
    def _parse_reply(payload: Any) -> Reply | str:
        """The stored Reply, or why it is not one (naming fields only: no message text)."""
        try:
            return Reply.model_validate(payload)
        except ValidationError as exc:
            places = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            return f"payload is not a valid Reply (at {places or 'top level'})"

    def _locked(self, query: Select[Any]) -> Select[Any]:
        """PostgreSQL: lock what we read and skip rows another claimer holds (SQLite: no-op)."""
        return query.with_for_update(skip_locked=True, of=_o) if self._lock_rows else query

    def _due_rows(self, now: datetime, limit: int) -> Select[Any]:
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
        return (
            select(_o)
            .where(
                _o.c.platform.in_(self._senders),
                or_(
                    and_(_o.c.status == PENDING, _o.c.next_attempt_at <= now),
                    and_(_o.c.status == SENDING, _o.c.claimed_until < now),
                ),
                or_(_o.c.depends_on.is_(None), dependency_sent),
                ~behind_earlier,
            )
            .order_by(_o.c.id)
            .limit(limit)
        )

    @staticmethod
    def _take(conn: Connection, row: Row[Any], lease: datetime) -> bool:
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

    @staticmethod
    def _dependency_results(
        conn: Connection, rows: Sequence[Row[Any]]
    ) -> dict[int, dict[str, Any] | None]:
        wanted = {row.depends_on for row in rows if row.depends_on is not None}
        if not wanted:
            return {}
        found = conn.execute(select(_o.c.id, _o.c.result).where(_o.c.id.in_(wanted)))
        return {row.id: row.result for row in found}

    def _bury_orphans(self, conn: Connection, limit: int) -> list[tuple[int, str, str]]:
        """Pending rows whose dependency is dead (or missing) can never be sent: mark them dead."""
        dependency = _o.alias("dependency")
        alive = exists().where(dependency.c.id == _o.c.depends_on, dependency.c.status != DEAD)
        orphans = conn.execute(
            self._locked(
                select(_o.c.id, _o.c.platform, _o.c.depends_on)
                .where(_o.c.status == PENDING, _o.c.depends_on.is_not(None), ~alive)
                .order_by(_o.c.id)
                .limit(limit)
            )
        ).all()
        buried = []
        for row in orphans:
            error = f"dependency outbox #{row.depends_on} is dead or missing"
            pending = update(_o).where(_o.c.id == row.id, _o.c.status == PENDING)
            if conn.execute(self._dead_values(pending, error)).rowcount == 1:
                buried.append((row.id, row.platform, error))
        return buried

    def _note_missing_senders(self, conn: Connection, limit: int) -> None:
        """Say on the row why it waits: no adapter for its platform is configured here.

        Such rows are never claimed by this dispatcher (so they cannot crowd out the rows it
        can send) and stay pending for a replica, or a later start, that has the sender.
        """
        unnoted = conn.execute(
            self._locked(
                select(_o.c.id, _o.c.platform)
                .where(
                    _o.c.status == PENDING,
                    _o.c.platform.not_in(self._senders),
                    or_(_o.c.last_error.is_(None), _o.c.last_error.not_like("no sender for %")),
                )
                .limit(limit)
            )
        ).all()
        for row in unnoted:
            conn.execute(
                update(_o)
                .where(_o.c.id == row.id, _o.c.status == PENDING)
                .values(last_error=f"no sender for {row.platform}")
            )
            log.warning("outbox.no_sender", outbox_id=row.id, platform=row.platform)

    # -- delivering -----------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> bool:
        """Send one claimed delivery and record the outcome; True when it was sent.

        Never raises for a sender's failure: RetryLater and any unexpected exception are
        retried with backoff, PermanentFailure (or running out of attempts) makes it dead.
        """
        if not isinstance(delivery, ClaimedDelivery) or delivery.claimed_until is None:
            raise TypeError("deliver() takes a delivery returned by claim_due()")
        platform = delivery.platform
        sender = self._senders.get(platform)
        if sender is None:
            self._release(delivery, last_error=f"no sender for {platform}")
            log.warning("outbox.no_sender", outbox_id=delivery.id, platform=platform)
            return False
        started = time.perf_counter()
        try:
            result = sender.send(delivery)
        except RetryLater as exc:
            return self._retry(delivery, exc.reason, exc.after_seconds, trace=False)
        except PermanentFailure as exc:
            return self._give_up(delivery, str(exc) or type(exc).__name__)
        except Exception as exc:  # a bug or an outage in the sender is transient for us
            return self._retry(delivery, f"{type(exc).__name__}: {exc}", None, trace=True)
        finally:
            DELIVERY_SECONDS.labels(platform=platform).observe(time.perf_counter() - started)
        return self._record_sent(delivery, result)

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with full jitter, capped at max_delay: spreads retry storms."""
        ceiling = min(self._max_delay, self._base_delay * 2.0 ** min(attempts - 1, 64))
        return self._rng.uniform(0.0, ceiling)

    def _record_sent(self, delivery: ClaimedDelivery, result: dict[str, Any]) -> bool:
        now = self._clock()
        recorded = self._settle(
            delivery,
            status=SENT,
            sent_at=now,
            result=dict(result or {}),
            attempts=_o.c.attempts + 1,
            claimed_until=None,
        )
        if recorded:
            DELIVERIES.labels(platform=delivery.platform, outcome="sent").inc()
            if delivery.created_at is not None:
                lag = max(0.0, (now - delivery.created_at).total_seconds())
                LAG_SECONDS.labels(platform=delivery.platform).observe(lag)
            log.info(
                "outbox.sent",
                outbox_id=delivery.id,
                platform=delivery.platform,
                kind=delivery.kind,
                attempt=delivery.attempt,
            )
        return recorded

    def _retry(
        self, delivery: ClaimedDelivery, reason: str, after: float | None, *, trace: bool
    ) -> bool:
        """Back to pending; a platform's Retry-After is a floor that jitter never undercuts."""
        if delivery.attempt >= self._max_attempts:
            return self._give_up(delivery, f"gave up after {delivery.attempt} attempts: {reason}")
        delay = max(after or 0.0, self.backoff(delivery.attempt))
        recorded = self._settle(
            delivery,
            status=PENDING,
            attempts=_o.c.attempts + 1,
            next_attempt_at=self._clock() + timedelta(seconds=delay),
            claimed_until=None,
            last_error=_truncate(reason),
        )
        if recorded:
            DELIVERIES.labels(platform=delivery.platform, outcome="retry").inc()
            log.warning(
                "outbox.retry",
                outbox_id=delivery.id,
                platform=delivery.platform,
                attempt=delivery.attempt,
                delay_seconds=round(delay, 3),
                reason=reason,
                exc_info=trace,
            )
        return False

    def _give_up(self, delivery: ClaimedDelivery, error: str) -> bool:
        recorded = self._settle(
            delivery,
            status=DEAD,
            attempts=_o.c.attempts + 1,
            claimed_until=None,
            last_error=_truncate(error),
        )
        if recorded:
            DELIVERIES.labels(platform=delivery.platform, outcome="dead").inc()
            log.error(
                "outbox.dead",
                outbox_id=delivery.id,
                platform=delivery.platform,
                attempt=delivery.attempt,
                error=error,
            )
            self._tell_dead(delivery.id, error)
        return False

    def _tell_dead(self, outbox_id: int, error: str) -> None:
        if self._on_dead is None:
            return
        try:
            self._on_dead(outbox_id, error)
        except Exception:  # the row is recorded dead either way; never kill the loop
            log.exception("outbox.on_dead_failed", outbox_id=outbox_id)

    def _release(self, delivery: ClaimedDelivery, *, last_error: str | None = None) -> None:
        """Hand a claim back untried: no attempt is counted and it is due again at once."""
        self._settle(delivery, status=PENDING, claimed_until=None, last_error=last_error)

    @staticmethod
    def _dead_values(statement: Update, error: str) -> Update:
        return statement.values(status=DEAD, claimed_until=None, last_error=_truncate(error))

    def _settle(self, delivery: ClaimedDelivery, **values: Any) -> bool:
        """Write an outcome only while our lease still holds; otherwise log and skip it."""
        claimed_by_us = update(_o).where(
            _o.c.id == delivery.id,
            _o.c.status == SENDING,
            _o.c.claimed_until == delivery.claimed_until,
        )
        with write_lock(self._engine), self._engine.begin() as conn:
            recorded = conn.execute(claimed_by_us.values(**values)).rowcount == 1
        if not recorded:
            log.warning(
                "outbox.claim_lost",
                outbox_id=delivery.id,
                platform=delivery.platform,
                attempt=delivery.attempt,
            )
        return recorded

    # -- running --------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many messages were sent."""
        return self._run_batch()[1]

    def _run_batch(self, *, stoppable: bool = False) -> tuple[int, int]:
        """(claimed, sent). A stoppable batch hands back what it has not started on stop()."""
        deliveries = self.claim_due(self._batch_size)
        sent = 0
        for index, delivery in enumerate(deliveries):
            if stoppable and self._stopping.is_set():
                self._release_all(deliveries[index:])
                break
            try:
                if self.deliver(delivery):
                    sent += 1
            except Exception:  # the store failed; the lease brings the row back later
                log.exception("outbox.deliver_failed", outbox_id=delivery.id)
        return len(deliveries), sent

    def _release_all(self, deliveries: Iterable[Delivery]) -> None:
        for delivery in deliveries:
            if isinstance(delivery, ClaimedDelivery):
                self._release(delivery)

    def start(self) -> None:
        """Deliver from a daemon thread until `stop()`; `wake()` cuts the poll wait short."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("dispatcher already started")
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, name="launchops-outbox-dispatcher", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Look for due rows now: call after committing a transaction that enqueued some."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Stop the thread after its current send; True once it has exited."""
        thread = self._thread
        if thread is None:
            return True
        self._stopping.set()
        self._wake.set()
        thread.join(timeout)
        if thread.is_alive():
            log.warning("outbox.stop_timeout", timeout=timeout)
            return False
        self._thread = None
        return True

    def _loop(self) -> None:
        while not self._stopping.is_set():
            # Cleared before the batch, so a wake() arriving during it is not lost.
            self._wake.clear()
            try:
                claimed, _ = self._run_batch(stoppable=True)
            except Exception:  # the store is down: keep polling, never kill the thread
                log.exception("outbox.loop_failed")
                claimed = 0
            if claimed < self._batch_size:  # a full batch means more may be due right now
                self._wake.wait(self._poll_interval)

    def drain(self, timeout: float = 10.0) -> bool:
        """Deliver until nothing is due within `timeout` seconds (for tests and shutdown).

        Returns True when no row for this dispatcher's platforms is left pending or sending;
        False when some are still waiting (a long Retry-After) or the time ran out.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            claimed, _ = self._run_batch()
            if claimed:
                continue
            soon, unfinished = self._outstanding(self._clock() + timedelta(seconds=timeout))
            if soon == 0:
                return unfinished == 0
            time.sleep(0.01)
        return self._outstanding(self._clock())[1] == 0

    def _outstanding(self, horizon: datetime) -> tuple[int, int]:
        """(rows due by `horizon` or in flight, rows not finished) for our platforms."""
        soon = or_(
            _o.c.status == SENDING, and_(_o.c.status == PENDING, _o.c.next_attempt_at <= horizon)
        )
        query = select(
            func.count().filter(soon), func.count().filter(_o.c.status.in_((PENDING, SENDING)))
        ).where(_o.c.platform.in_(self._senders))
        with self._engine.connect() as conn:
            due_soon, unfinished = conn.execute(query).one()
        return int(due_soon), int(unfinished)
