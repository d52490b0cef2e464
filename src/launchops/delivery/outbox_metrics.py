"""Outbox depth and the age of its oldest undelivered message, read from the store per scrape.

Counters kept by one process cannot say what the outbox holds when several replicas share it,
or what is left over from before a restart; the store can. So these are computed at scrape
time by a custom collector: one small query on the `(status, next_attempt_at)` index.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Engine

from launchops.delivery.outbox import PENDING, SENDING, outbox_table
from launchops.store.types import utcnow

__all__ = ["OUTBOX", "OutboxCollector", "register_outbox_metrics"]

log = structlog.get_logger(__name__)

DEPTH = "launchops_outbox_pending_messages"
OLDEST_AGE = "launchops_outbox_oldest_pending_age_seconds"

_o = outbox_table.c
# A row delayed on purpose (`not_before`, never tried yet) is only late once it is due; any
# other row has been owed since it was written, retries and Retry-After waits included.
_DUE_SINCE = case(
    (and_(_o.attempts == 0, _o.next_attempt_at > _o.created_at), _o.next_attempt_at),
    else_=_o.created_at,
)


class OutboxCollector(Collector):
    """Pending (or being sent) rows, and seconds since the oldest of them was due.

    One per registry, reading the store of the newest app that registered: replicas share
    one store, so any of them gives the same answer, and apps built one after another in one
    process (tests) never register the same metric names twice.
    """

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self._engines: list[Engine] = []
        self._lock = threading.Lock()

    def attach(self, engine: Engine) -> Callable[[], None]:
        with self._lock:
            self._engines.append(engine)

        def detach() -> None:
            with self._lock:
                if engine in self._engines:
                    self._engines.remove(engine)

        return detach

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            DEPTH, "Outbox messages not yet delivered (pending, or claimed and being sent)."
        )
        age = GaugeMetricFamily(
            OLDEST_AGE,
            "Seconds since the oldest undelivered outbox message was due (0 when none is).",
        )
        with self._lock:
            engine = self._engines[-1] if self._engines else None
        if engine is None:  # no app running here: the families, without samples
            yield depth
            yield age
            return
        try:
            with engine.connect() as connection:
                count, oldest = connection.execute(
                    select(func.count(), func.min(_DUE_SINCE)).where(
                        _o.status.in_((PENDING, SENDING))
                    )
                ).one()
        except Exception as error:
            # No sample rather than a wrong one, and the rest of /metrics still answers:
            # the readiness probe reports a store that cannot be read.
            log.warning("outbox_metrics.unavailable", error=str(error))
        else:
            depth.add_metric([], float(count))
            age.add_metric([], self._age_seconds(oldest))
        yield depth
        yield age

    def _age_seconds(self, oldest: datetime | None) -> float:
        if oldest is None:
            return 0.0
        if oldest.tzinfo is None:  # the store keeps UTC; an aggregate may lose the zone
            oldest = oldest.replace(tzinfo=UTC)
        return max(0.0, (self._clock() - oldest).total_seconds())

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Declared up front so registering needs no store query.
        yield GaugeMetricFamily(DEPTH, "")
        yield GaugeMetricFamily(OLDEST_AGE, "")


OUTBOX = OutboxCollector()
# Registered once at import on the default registry, like the other metrics modules; an app
# attaches its store while it runs (web.py's lifespan).
REGISTRY.register(OUTBOX)


def register_outbox_metrics(engine: Engine) -> Callable[[], None]:
    """Serve the outbox gauges from `engine`'s store; returns the function that stops it."""
    return OUTBOX.attach(engine)
