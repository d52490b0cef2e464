"""The contract between the dispatcher and each platform's sender.

The dispatcher knows nothing about Slack or Teams: it hands a `Delivery` to the sender named
by the row's platform and reads the outcome from what the sender returns or raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

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
    """The platform asked us to wait (HTTP 429) or failed transiently (5xx, network).

    `method` names the API method that was rate limited: with `after_seconds`, every row
    that calls that method waits it out, not only this one (see delivery/pacing.py).
    """

    def __init__(
        self, reason: str, after_seconds: float | None = None, *, method: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after_seconds = after_seconds
        self.method = method


class PermanentFailure(Exception):
    """Retrying cannot help (channel not found, bot removed, bad request)."""


@dataclass(frozen=True)
class Route:
    """Where a delivery lands and which API methods sending it calls.

    Rows with one `conversation` are sent one at a time, in claim order; `methods` are what
    a rate-limited method holds back and what per-conversation pacing counts.
    """

    conversation: str
    methods: tuple[str, ...] = ()


@dataclass(frozen=True)
class Limit:
    """A platform's documented pace for one method in one conversation: `per_second`
    sustained, `burst` at once (e.g. Slack chat.postMessage: about 1 a second a channel)."""

    per_second: float
    burst: int = 1


@runtime_checkable
class RoutedSender(Protocol):
    """A Sender that can say, before sending, where a delivery goes and how fast it may."""

    platform: str
    limits: Mapping[str, Limit]

    def route(self, delivery: Delivery) -> Route: ...

    def send(self, delivery: Delivery) -> dict[str, Any]: ...


def default_route(delivery: Delivery) -> Route:
    """For senders that do not route: the destination's own address, else the row alone."""
    where = delivery.destination
    for key in ("channel", "conversation", "user", "response_url"):
        if where.get(key):
            return Route(f"{key}:{where[key]}")
    return Route(f"outbox:{delivery.id}")


class Sender(Protocol):
    platform: str

    def send(self, delivery: Delivery) -> dict[str, Any]:
        """Deliver, returning what later updates need (e.g. Slack `ts`, Teams activity id)."""
        ...
