"""What the delivery tests share: a recording platform, a clock to move, row helpers.

`FakePlatform` is a recording Sender whose answers are scripted per outbox id; `FakeClock`
is injected into the dispatcher, so backoff and Retry-After are checked by moving the clock,
never by sleeping.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from launchops.delivery.dispatcher import Dispatcher
from launchops.delivery.outbox import enqueue
from launchops.delivery.sender import Delivery
from launchops.messages.reply import Reply
from launchops.store import session_scope
from launchops.store.models import OutboxMessage
from launchops.store.types import utcnow


class FakeClock:
    """Starts a minute ahead of real time, so rows enqueued just now are already due."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakePlatform:
    """A recording Sender. `script[outbox_id]` lists exceptions to raise on its next sends."""

    def __init__(self, platform: str = "slack", *, pause: float = 0.0) -> None:
        self.platform = platform
        self.script: dict[int, list[Exception]] = {}
        self.calls: list[tuple[int, int]] = []  # (outbox id, attempt) for every send() call
        self.sent: list[Delivery] = []  # the deliveries that succeeded
        self.delivered = threading.Event()
        self._pause = pause
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> dict[str, Any]:
        with self._lock:
            self.calls.append((delivery.id, delivery.attempt))
            scripted = self.script.get(delivery.id)
            failure = scripted.pop(0) if scripted else None
        if self._pause:
            threading.Event().wait(self._pause)  # widen the race window in the replica test
        if failure is not None:
            raise failure
        with self._lock:
            self.sent.append(delivery)
        self.delivered.set()
        return {"ts": f"1700000000.{delivery.id:06d}", "channel": delivery.destination["channel"]}

    @property
    def sent_ids(self) -> list[int]:
        return [delivery.id for delivery in self.sent]

    @property
    def called_ids(self) -> list[int]:
        return [outbox_id for outbox_id, _ in self.calls]


def dispatcher(
    engine: Engine, clock: FakeClock, *senders: FakePlatform, **options: Any
) -> Dispatcher:
    """Tiny backoff (1 ms) so that a one-second step of the clock makes every retry due."""
    settings: dict[str, Any] = {"base_delay": 0.001, "max_delay": 0.001, "rng": random.Random(7)}
    settings.update(options)
    return Dispatcher(engine, {s.platform: s for s in senders}, clock=clock, **settings)


def add(engine: Engine, text: str = "hello", *, platform: str = "slack", **kwargs: Any) -> int:
    with session_scope(engine) as session:
        outbox_id = enqueue(
            session,
            platform=platform,
            kind=kwargs.pop("kind", "post"),
            destination=kwargs.pop("destination", {"channel": "C0MLTEAM"}),
            reply=Reply(text=text),
            **kwargs,
        )
    assert outbox_id is not None
    return outbox_id


def row(engine: Engine, outbox_id: int) -> OutboxMessage:
    with Session(engine) as session:
        found = session.get(OutboxMessage, outbox_id)
    assert found is not None
    return found


def statuses(engine: Engine) -> dict[int, str]:
    with Session(engine) as session:
        return {r.id: r.status for r in session.exec(select(OutboxMessage)).all() if r.id}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
