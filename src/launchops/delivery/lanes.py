"""Sending claimed rows on a few threads at once, one conversation at a time each.

Most of a send is waiting on the network, so a P0's two hundred DMs go out several at once.
Two things must survive that: rows of one conversation leave in claim order (two cards in a
team channel keep their order; rows of one thread are already kept apart by `ordering_key`),
and a page claimed later still goes before digests claimed earlier but not yet started. So
each conversation is a *lane* that only one worker serves at a time, and idle workers take
the ready lane whose next row has the highest priority, oldest first — not a FIFO queue.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Callable
from typing import Final

import structlog

from launchops.delivery.claims import ClaimedDelivery

__all__ = ["Lanes"]

log = structlog.get_logger(__name__)

IDLE_SECONDS: Final = 30.0  # a worker with nothing to do for this long exits


class Lanes:
    """Up to `workers` daemon threads calling `work(delivery)`; threads start on demand."""

    def __init__(self, workers: int, work: Callable[[ClaimedDelivery], None]) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._workers = workers
        self._work = work
        self._cond = threading.Condition()
        self._lanes: dict[str, deque[ClaimedDelivery]] = {}
        self._busy: set[str] = set()
        self._ready: list[tuple[int, int, str]] = []  # (-priority, id, lane) of each lane's head
        self._threads = 0
        self._idle = 0

    def submit(self, lane: str, delivery: ClaimedDelivery) -> None:
        with self._cond:
            queued = self._lanes.get(lane)
            if queued is not None:  # busy, or already ready with an earlier head
                queued.append(delivery)
                return
            self._lanes[lane] = deque([delivery])
            heapq.heappush(self._ready, (-delivery.priority, delivery.id, lane))
            if self._idle == 0 and self._threads < self._workers:
                self._threads += 1
                threading.Thread(
                    target=self._serve, name="launchops-outbox-worker", daemon=True
                ).start()
            else:
                self._cond.notify()

    def take_waiting(self) -> list[ClaimedDelivery]:
        """Remove and return every row not yet started (to hand back on stop)."""
        with self._cond:
            waiting = [d for queued in self._lanes.values() for d in queued]
            for queued in self._lanes.values():
                queued.clear()
            self._ready.clear()
            self._lanes = {lane: q for lane, q in self._lanes.items() if lane in self._busy}
            return waiting

    def _next(self) -> tuple[str, ClaimedDelivery] | None:
        with self._cond:
            self._idle += 1
            try:
                if not self._cond.wait_for(lambda: self._ready, timeout=IDLE_SECONDS):
                    self._threads -= 1
                    return None
            finally:
                self._idle -= 1
            _, _, lane = heapq.heappop(self._ready)
            self._busy.add(lane)
            return lane, self._lanes[lane].popleft()

    def _serve(self) -> None:
        while (taken := self._next()) is not None:
            lane, delivery = taken
            try:
                self._work(delivery)
            except Exception:  # `work` records its own failures; this is a last resort
                log.exception("outbox.worker_failed", outbox_id=delivery.id)
            finally:
                self._finish(lane)

    def _finish(self, lane: str) -> None:
        with self._cond:
            self._busy.discard(lane)
            queued = self._lanes.get(lane)
            if queued:
                head = queued[0]
                heapq.heappush(self._ready, (-head.priority, head.id, lane))
                self._cond.notify()
            else:
                self._lanes.pop(lane, None)
