"""Delivering outbox rows: claim them, hand them to the platform's Sender, record the outcome.

Every replica runs a Dispatcher over the same database, so a row is first *claimed*: set to
`sending` with a lease, `claimed_until` (delivery/claims.py says how two claimers never take
one row). The lease doubles as a fencing token: an outcome is written only if the row still
carries our `claimed_until` (delivery/recording.py), so a dispatcher that stalled past its
lease cannot overwrite the work of the one that took the row over. A crashed claimer's rows
come back when the lease runs out, so delivery is at-least-once: a message goes out twice
only if a send outlives `claim_ttl` or the process dies between sending and recording. Keep
`claim_ttl` well above the senders' HTTP timeouts.

Claimed rows are sent by a few workers at once (delivery/lanes.py: one conversation at a
time each, pages first) within the platform's limits (delivery/pacing.py), and their outcomes
written in batches by the thread that claims: a P0's pages cost little more than the HTTP
calls themselves.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import structlog
from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from launchops.delivery import claims
from launchops.delivery.claims import ClaimedDelivery
from launchops.delivery.lanes import Lanes
from launchops.delivery.metrics import DELIVERIES, DELIVERY_SECONDS
from launchops.delivery.outbox import PENDING, SENDING, outbox_table
from launchops.delivery.pacing import Deferred, Pacer
from launchops.delivery.recording import SENT_EVENT, Outcome, Recorder
from launchops.delivery.sender import (
    Delivery,
    Limit,
    PermanentFailure,
    RetryLater,
    Route,
    RoutedSender,
    Sender,
    default_route,
)
from launchops.store.db import write_lock
from launchops.store.types import utcnow

__all__ = ["ClaimedDelivery", "Dispatcher"]

log = structlog.get_logger(__name__)

_o = outbox_table
RECORD_LINGER: Final = 0.005  # seconds an outcome waits for others to share its commit


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
        workers: int = 8,
        max_pace_wait: float = 1.0,
        rng: random.Random | None = None,
        on_dead: Callable[[int, str], None] | None = None,
    ) -> None:
        """`on_dead(outbox_id, error)` is told of each row a sender refused for good (or that
        ran out of attempts), once, after that is recorded: how an undeliverable page reaches
        the incident it belongs to without the outbox knowing about incidents. `workers`
        sends run at once; a row paced for longer than `max_pace_wait` is handed back."""
        if max_attempts < 1 or batch_size < 1 or workers < 1:
            raise ValueError("max_attempts, batch_size and workers must be at least 1")
        if claim_ttl <= 0 or poll_interval <= 0 or base_delay < 0 or max_delay < 0:
            raise ValueError("claim_ttl and poll_interval must be positive, delays not negative")
        self._engine = engine
        self._senders = dict(senders)
        # Looked up once: a runtime Protocol check per row cost as much as recording it.
        routed = {p: s for p, s in self._senders.items() if isinstance(s, RoutedSender)}
        self._routers: dict[str, Callable[[Delivery], Route]] = {
            p: s.route for p, s in routed.items()
        }
        self._limits: dict[str, Mapping[str, Limit]] = {p: s.limits for p, s in routed.items()}
        self._clock = clock
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._claim_ttl = timedelta(seconds=claim_ttl)
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._workers = workers
        # Claim more while a few rows per worker are still queued: a claim (and, on
        # PostgreSQL, a commit) takes milliseconds, and idle workers would wait it out.
        self._refill_at = max(batch_size // 2, batch_size - 2 * workers)
        self._rng = rng or random.Random()  # jitter needs spread, not secrecy
        self._lock_rows = engine.dialect.name == "postgresql"
        self._due = claims.locked(claims.due_rows(self._senders), self._lock_rows)
        self._recorder = Recorder(engine, clock, on_dead)
        self._pacer = Pacer(max_wait=max_pace_wait)
        self._outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._lanes = Lanes(workers, self._work)
        self._pass_lock = threading.Lock()  # one coordinator at a time reads `_outcomes`
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- claiming -------------------------------------------------------------------------

    def claim_due(self, limit: int | None = None, *, tidy: bool = True) -> list[Delivery]:
        """Take up to `limit` due rows for this dispatcher's platforms: pages first, then
        oldest first. Rows whose dependency died, or whose payload is unreadable, are buried.
        `tidy=False` skips the housekeeping (burying orphans, noting missing senders) that
        one claim per pass is enough for.
        """
        limit = limit or self._batch_size
        now = self._clock()
        lease = now + self._claim_ttl
        with write_lock(self._engine), self._engine.begin() as conn:
            buried = claims.bury_orphans(conn, limit, self._lock_rows) if tidy else []
            if tidy:
                claims.note_missing_senders(conn, self._senders, limit, self._lock_rows)
            seen = conn.execute(self._due, {"now": now, "limit": limit}).all()
            taken = self._take_rows(conn, seen, lease)
            results = claims.dependency_results(conn, taken)
            deliveries: list[Delivery] = []
            for row in taken:
                reply = claims.parse_reply(row.payload)
                if isinstance(reply, str):  # written by an incompatible version: unsendable
                    dead = claims.dead_values(update(_o).where(_o.c.id == row.id), reply)
                    conn.execute(dead)
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
                        priority=row.priority,
                    )
                )
        for outbox_id, platform, error in buried:
            DELIVERIES.labels(platform=platform, outcome="dead").inc()
            log.error("outbox.dead", outbox_id=outbox_id, platform=platform, error=error)
        return deliveries

    def _take_rows(
        self, conn: Connection, rows: Sequence[Row[Any]], lease: datetime
    ) -> list[Row[Any]]:
        """The rows nobody changed since we read them, now ours (a seam for race tests)."""
        return claims.take(conn, rows, lease)

    # -- delivering -----------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> bool:
        """Send one claimed delivery and record the outcome; True when it was sent.

        Never raises for a sender's failure: RetryLater and any unexpected exception are
        retried with backoff, PermanentFailure (or running out of attempts) makes it dead.
        """
        if not isinstance(delivery, ClaimedDelivery) or delivery.claimed_until is None:
            raise TypeError("deliver() takes a delivery returned by claim_due()")
        outcome = self._attempt(delivery)
        return self._recorder.record([outcome]) == [True] and outcome.event == SENT_EVENT

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with full jitter, capped at max_delay: spreads retry storms."""
        ceiling = min(self._max_delay, self._base_delay * 2.0 ** min(attempts - 1, 64))
        return self._rng.uniform(0.0, ceiling)

    def _route(self, delivery: Delivery) -> Route:
        return self._routers.get(delivery.platform, default_route)(delivery)

    def _attempt(self, delivery: ClaimedDelivery) -> Outcome:
        """Wait for the platform's limits, send, and say what to record (nothing written)."""
        platform = delivery.platform
        sender = self._senders.get(platform)
        if sender is None:
            return Outcome.released(delivery, last_error=f"no sender for {platform}")
        now = self._clock()
        assert delivery.claimed_until is not None
        if delivery.claimed_until - now < self._claim_ttl / 2:
            # Queued in its lane for most of its lease: a send now could outlive the lease
            # and race the replica that takes the row over. Hand it back untried instead.
            return Outcome.released(delivery)
        route = self._route(delivery)
        limits = self._limits.get(platform, {})
        admitted = self._pacer.admit(platform, route, limits, now)
        if isinstance(admitted, Deferred):
            return Outcome.released(delivery, last_error=admitted.reason, due=admitted.until)
        if admitted.wait > 0 and self._stopping.wait(admitted.wait):
            return Outcome.released(delivery)
        started = time.perf_counter()
        try:
            result = sender.send(delivery)
        except RetryLater as exc:
            if exc.method is not None and exc.after_seconds:
                until = self._clock() + timedelta(seconds=exc.after_seconds)
                self._pacer.hold(platform, exc.method, until)
            return self._retry(delivery, exc.reason, exc.after_seconds)
        except PermanentFailure as exc:
            return Outcome.dead(delivery, str(exc) or type(exc).__name__)
        except Exception as exc:  # a bug or an outage in the sender is transient for us
            return self._retry(delivery, f"{type(exc).__name__}: {exc}", None, trace=exc)
        finally:
            DELIVERY_SECONDS.labels(platform=platform).observe(time.perf_counter() - started)
        return Outcome.sent(delivery, result, self._clock())

    def _retry(
        self,
        delivery: ClaimedDelivery,
        reason: str,
        after: float | None,
        *,
        trace: BaseException | None = None,
    ) -> Outcome:
        """Back to pending; a platform's Retry-After is a floor that jitter never undercuts."""
        if delivery.attempt >= self._max_attempts:
            return Outcome.dead(delivery, f"gave up after {delivery.attempt} attempts: {reason}")
        delay = max(after or 0.0, self.backoff(delivery.attempt))
        due = self._clock() + timedelta(seconds=delay)
        return Outcome.retry(delivery, reason, due, delay, trace=trace)

    def _work(self, delivery: ClaimedDelivery) -> None:
        """Run on a lane worker: always hands the coordinator exactly one outcome."""
        try:
            if self._stopping.is_set():  # stop(): hand back what has not started
                outcome = Outcome.released(delivery)
            else:
                outcome = self._attempt(delivery)
        except Exception as exc:  # pacing or the clock failed: retry the row like any error
            outcome = self._retry(delivery, f"{type(exc).__name__}: {exc}", None, trace=exc)
        self._outcomes.put(outcome)

    # -- running --------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many messages were sent."""
        return self._pump(keep_claiming=False)[1]

    def _pump(self, *, keep_claiming: bool, stoppable: bool = False) -> tuple[int, int]:
        """(claimed, sent). Claims a batch, hands it to the lanes and records outcomes as
        they come; with `keep_claiming`, tops the lanes up (at half a batch, or on wake())
        until nothing is due. A stoppable pump hands back what it has not started on stop()."""
        with self._pass_lock:
            claimed = sent = outstanding = 0
            refill, exhausted = True, False
            while refill or outstanding:
                if refill:
                    refill = False
                    self._wake.clear()  # before claiming: a later wake() is not lost
                    wanted = self._batch_size - outstanding
                    if keep_claiming and not claimed:  # a small first claim: sends start sooner
                        wanted = min(wanted, 2 * self._workers)
                    taken = self._submit(wanted, tidy=not claimed)
                    exhausted = taken < wanted  # claim again only once more may be due
                    claimed += taken
                    outstanding += taken
                    if not outstanding:
                        break
                outcomes = self._collect(outstanding)
                if stoppable and self._stopping.is_set():
                    returned = self._lanes.take_waiting()
                    outcomes += [Outcome.released(d) for d in returned]
                outstanding -= len(outcomes)
                sent += self._record(outcomes)
                stopped = stoppable and self._stopping.is_set()
                low = outstanding <= self._refill_at and not exhausted
                refill = keep_claiming and not stopped and (low or self._wake.is_set())
            return claimed, sent

    def _collect(self, outstanding: int) -> list[Outcome]:
        """The next outcome, and, in a burst, any others arriving within RECORD_LINGER: one
        commit for several sends, since a commit costs about as much CPU as the send it
        records. The linger is a plain sleep, not a wait per outcome: each wake-up would take
        the GIL from the workers. Outside a burst (fewer sends out than workers) an outcome is
        recorded at once: the moment between Slack's answer and the record, in which a crash
        makes the message go out again, is then the commit alone."""
        outcomes = [self._outcomes.get()]
        if outstanding > self._workers:
            time.sleep(RECORD_LINGER)
        while len(outcomes) < outstanding:
            try:
                outcomes.append(self._outcomes.get_nowait())
            except queue.Empty:
                break
        return outcomes

    def _submit(self, limit: int, *, tidy: bool) -> int:
        if limit <= 0:
            return 0
        try:
            deliveries = self.claim_due(limit, tidy=tidy)
        except Exception:  # the store is down: finish what is out, poll again later
            log.exception("outbox.claim_failed")
            return 0
        for delivery in deliveries:
            assert isinstance(delivery, ClaimedDelivery)
            self._lanes.submit(self._route(delivery).conversation, delivery)
        return len(deliveries)

    def _record(self, outcomes: list[Outcome]) -> int:
        try:
            written = self._recorder.record(outcomes)
        except Exception:  # the store failed; the lease brings these rows back later
            log.exception("outbox.record_failed", outbox_ids=[o.delivery.id for o in outcomes])
            return 0
        return sum(ok and o.event == SENT_EVENT for o, ok in zip(outcomes, written, strict=True))

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
        """Stop the thread after the sends in flight; True once it has exited."""
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
        self._stopping.clear()  # run_once() and drain() still work on a stopped dispatcher
        return True

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed, _ = self._pump(keep_claiming=True, stoppable=True)
            except Exception:  # never kill the thread
                log.exception("outbox.loop_failed")
                claimed = 0
            # A pump clears the wake flag before it claims, so a stop() that came while this
            # thread waited for the pass lock left only `_stopping` set: look before sleeping.
            if claimed == 0 and not self._stopping.is_set():
                self._wake.wait(self._poll_interval)

    def drain(self, timeout: float = 10.0) -> bool:
        """Deliver until nothing is due within `timeout` seconds (for tests and shutdown).

        Returns True when no row for this dispatcher's platforms is left pending or sending;
        False when some are still waiting (a long Retry-After) or the time ran out.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            claimed, _ = self._pump(keep_claiming=True)
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
