"""Keeping sends inside a platform's rate limits, shared by every delivery worker.

Two rules, both per process (each replica paces itself; a 429 still reaches every replica
that calls the method, since each then closes its own gate):

- A *gate* per (platform, method): one 429 with `Retry-After` closes it, and every row that
  would call that method waits until it opens, instead of each row finding the limit with a
  429 of its own and spending a retry attempt on it.
- A *pace* per (platform, method, conversation), for the methods a sender gives a `Limit`
  (Slack: chat.postMessage, about one a second in a channel, short bursts allowed). A
  generic cell rate algorithm: a burst into one channel is spread out, while a fan-out of
  DMs, each its own conversation, is not slowed at all.

Method-wide tiers (Slack's "50+ per minute, bursts welcome") are not paced in advance: their
burst size is undocumented, and pacing 200 pages to the sustained rate would hold a P0 for
minutes. The gate enforces them the moment Slack says so.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from launchops.delivery.sender import Limit, Route

__all__ = ["Admitted", "Deferred", "Pacer"]

MAX_PACES: Final = 10_000  # conversations remembered before idle ones are forgotten


@dataclass(frozen=True)
class Admitted:
    """Send after waiting `wait` seconds (a slot in the conversation's pace is reserved)."""

    wait: float


@dataclass(frozen=True)
class Deferred:
    """Not now: hand the row back, due again at `until`; `reason` says which limit."""

    until: datetime
    reason: str


class Pacer:
    """Thread-safe; `max_wait` is the longest a worker sleeps for a slot before deferring."""

    def __init__(self, *, max_wait: float = 1.0) -> None:
        self._max_wait = timedelta(seconds=max_wait)
        self._lock = threading.Lock()
        self._gates: dict[tuple[str, str], datetime] = {}
        self._paces: dict[tuple[str, str, str], datetime] = {}  # theoretical arrival time

    def hold(self, platform: str, method: str, until: datetime) -> None:
        """Close `method`'s gate until `until` (a later deadline already set is kept)."""
        key = (platform, method)
        with self._lock:
            if self._gates.get(key, until) <= until:
                self._gates[key] = until

    def admit(
        self, platform: str, route: Route, limits: Mapping[str, Limit], now: datetime
    ) -> Admitted | Deferred:
        with self._lock:
            for method in route.methods:
                until = self._gates.get((platform, method))
                if until is not None and until > now:
                    return Deferred(until, f"held back: {method} is rate limited")
            wait = timedelta(0)
            reserved: list[tuple[tuple[str, str, str], datetime]] = []
            for method in route.methods:
                limit = limits.get(method)
                if limit is None:
                    continue
                key = (platform, method, route.conversation)
                interval = timedelta(seconds=1.0 / limit.per_second)
                arrival = max(self._paces.get(key, now), now)
                allowed = arrival - interval * (max(limit.burst, 1) - 1)
                if allowed - now > self._max_wait:
                    return Deferred(allowed, f"paced: {method} in {route.conversation}")
                wait = max(wait, allowed - now)
                reserved.append((key, arrival + interval))
            if len(self._paces) > MAX_PACES:
                self._paces = {k: t for k, t in self._paces.items() if t > now}
            self._paces.update(reserved)
        return Admitted(max(wait.total_seconds(), 0.0))
