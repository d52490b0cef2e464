"""Conversation references, written to the store only when they are new or have changed.

Every activity carries the reference the bot needs to speak first later (pages, reminders),
and it almost never changes: writing it on each message made every question a store write.
This remembers, in memory, what this process last stored under each key, so a repeated
question writes nothing; after a restart each key is written (at most) once again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Final

from launchops.adapters.teams.activity import PLATFORM
from launchops.services.messaging import MessagingService

__all__ = ["ConversationMemory"]

# Keys remembered at most (least recently seen forgotten first): a forgotten key costs one
# idempotent write when it is next seen, never a wrong reference.
MAX_REMEMBERED: Final = 50_000

Pairs = Iterable[tuple[str, dict[str, Any]]]


class ConversationMemory:
    def __init__(self, messaging: MessagingService, limit: int = MAX_REMEMBERED) -> None:
        self._messaging = messaging
        self._limit = limit
        self._stored: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def unknown(self, pairs: Pairs) -> list[tuple[str, dict[str, Any]]]:
        """The pairs not stored as they are: cheap, so the event loop may ask it directly."""
        with self._lock:
            fresh = []
            for key, reference in pairs:
                if self._stored.get(key) == reference:
                    self._stored.move_to_end(key)
                else:
                    fresh.append((key, reference))
            return fresh

    def store(self, pairs: Pairs) -> None:
        """Write the pairs (a blocking store call: run it in a worker thread)."""
        for key, reference in pairs:
            self._messaging.remember_conversation(PLATFORM, key, reference)
            with self._lock:
                self._stored[key] = reference
                self._stored.move_to_end(key)
                while len(self._stored) > self._limit:
                    self._stored.popitem(last=False)
