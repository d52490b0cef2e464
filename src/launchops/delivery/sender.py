"""The contract between the dispatcher and each platform's sender.

The dispatcher knows nothing about Slack or Teams: it hands a `Delivery` to the sender named
by the row's platform and reads the outcome from what the sender returns or raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from launchops.messages.reply import Reply


@dataclass(frozen=True)
class Delivery:
    """One outbox row as the sender sees it.

    `kind` is `post` (a new message), `ephemeral` (only `destination["user"]` sees it),
    `update` (edit an earlier message) or `respond` (Slack response_url / Teams reply).
    `destination` is platform-specific: Slack uses `channel`, `user`, `thread_ts`, `ts`,
    `response_url`; Teams uses `conversation` (a stored reference key) and `reply_to_id`.
    """

    id: int
    platform: str
    kind: str
    destination: dict[str, Any]
    reply: Reply
    attempt: int
    locale: str = "en"
    extra: dict[str, Any] = field(default_factory=dict)


class RetryLater(Exception):
    """The platform asked us to wait (HTTP 429) or failed transiently (5xx, network)."""

    def __init__(self, reason: str, after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after_seconds = after_seconds


class PermanentFailure(Exception):
    """Retrying cannot help (channel not found, bot removed, bad request)."""


class Sender(Protocol):
    platform: str

    def send(self, delivery: Delivery) -> dict[str, Any]:
        """Deliver, returning what later updates need (e.g. Slack `ts`, Teams activity id)."""
        ...
