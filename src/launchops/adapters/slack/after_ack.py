"""Answers that leave after the ack, straight to Slack: no outbox row, no store write.

Slack shows nothing of a button click's or an event's ack body, so those answers must be a
Web API call of their own (a click's `response_url`, a mention's `chat.postMessage`). They
are answers to one person about work already committed (or about nothing at all), so they
are not worth a row that survives a crash (DESIGN.md §5): each is one attempt, made once the
HTTP 200 has gone, and a failure is logged as a warning rather than dropped silently.

Opening a modal (`views.open`) is made after the ack too: no listener waits on Slack's Web
API before it answers, so a listener never holds up the requests queued behind it (on
SQLite they run one by one on the event loop, see lane.py). Slack accepts the call for three
seconds after the click or command, which the ack leaves nearly whole.

Over HTTP the calls are collected on the bolt context while the listener runs and made by
`SlackAdapter.handle` after the response is sent; in Socket Mode (no list on the context)
they are made at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from typing import Any, Final

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from launchops.delivery.sender import Delivery, Sender
from launchops.messages.reply import Reply

__all__ = ["PENDING", "AfterAck", "ModalOpener", "RecentKeys", "run_pending"]

log = structlog.get_logger(__name__)

PENDING: Final = "launchops_after_ack"  # bolt context key: the calls to make after the ack


class AfterAck:
    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def send(
        self,
        context: MutableMapping[str, Any] | None,
        *,
        kind: str,
        destination: dict[str, Any],
        reply: Reply,
        locale: str,
    ) -> None:
        """Send `reply` once the ack is out (at once when there is no HTTP response to wait
        for). `kind` and `destination` are the outbox's (see sender.py)."""
        delivery = Delivery(
            id=0,
            platform="slack",
            kind=kind,
            destination=destination,
            reply=reply,
            attempt=1,
            locale=locale,
        )

        def deliver() -> None:
            try:
                self._sender.send(delivery)
            except Exception as exc:  # one attempt by design; never a silent drop
                log.warning("slack.answer_not_sent", kind=kind, error=str(exc)[:200])

        later(context, deliver)


def later(context: MutableMapping[str, Any] | None, call: Callable[[], None]) -> None:
    """Make `call` once the ack is out; at once when there is no HTTP response to wait for
    (Socket Mode, or a call that is itself running after the ack: `context` None)."""
    pending = context.get(PENDING) if context is not None else None
    if isinstance(pending, list):
        pending.append(call)
    else:
        call()


class ModalOpener:
    """views.open once per trigger (a retried click or redelivered command must not open a
    second modal), after the ack. When Slack refuses (an expired trigger, an outage),
    `otherwise` runs instead, also after the ack: it answers the person in text, with
    `context` None so its own answer goes at once."""

    def __init__(self, client: WebClient, seen: RecentKeys) -> None:
        self._client = client
        self._seen = seen

    def open(
        self,
        context: MutableMapping[str, Any] | None,
        trigger_id: str,
        view: dict[str, Any],
        *,
        form: str,
        otherwise: Callable[[], None],
    ) -> None:
        if not self._seen.first_time(f"slack:form:{trigger_id}"):
            return  # the first delivery of this trigger opened it

        def open_view() -> None:
            try:
                self._client.views_open(trigger_id=trigger_id, view=view)
            except (SlackApiError, OSError) as exc:
                log.warning("slack.form_not_opened", form=form, error=type(exc).__name__)
                otherwise()

        later(context, open_view)


def run_pending(calls: list[Callable[[], None]]) -> None:
    for call in calls:
        call()


class RecentKeys:
    """Request ids seen in the last `ttl` seconds, in memory: a Slack retry of an event or a
    redelivered trigger is recognised without writing to the store. Per process: a retry that
    lands on another replica is answered again (declarations stay single: their key is
    unique in the store)."""

    def __init__(self, *, ttl: float = 600.0, limit: int = 50_000) -> None:
        self._ttl = ttl
        self._limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._seen:
                oldest, at = next(iter(self._seen.items()))
                if now - at <= self._ttl and len(self._seen) < self._limit:
                    break
                del self._seen[oldest]
            if key in self._seen:
                return False
            self._seen[key] = now
            return True
