"""Sending on several workers at once: what must still hold.

Rows of one conversation leave one at a time and in order, edits and thread notes never
overtake their card, two replicas still send each row once, one 429 holds back its whole
method, a burst into one channel is paced, and a page queued behind a digest burst goes
first. Order and counts are asserted, never timings.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from launchops.delivery.dispatcher import Dispatcher
from launchops.delivery.outbox import PRIORITY_BULK, PRIORITY_PAGE, enqueue
from launchops.delivery.sender import Delivery, Limit, RetryLater, Route
from launchops.messages.reply import Reply
from launchops.store import session_scope
from tests.delivery.support import FakeClock, FakePlatform, add, dispatcher, row, statuses

METHODS = {"post": ("chat.postMessage",), "update": ("chat.update",), "dm": ("chat.postMessage",)}


class RoutedPlatform(FakePlatform):
    """A FakePlatform that routes like SlackSender and watches what is in flight at once.

    `log` is shared between platforms (two replicas), so it is the order seen at "Slack".
    """

    def __init__(
        self,
        *,
        pause: float = 0.0,
        limits: dict[str, Limit] | None = None,
        log: list[int] | None = None,
    ) -> None:
        super().__init__("slack", pause=pause)
        self.limits = limits or {}
        self.log = log if log is not None else []
        self.most_at_once = 0
        self.most_in_one_conversation = 0
        self._in_flight: Counter[str] = Counter()
        self._watch = threading.Lock()

    def route(self, delivery: Delivery) -> Route:
        where = delivery.destination
        previous = delivery.extra.get("depends_on_result") or {}
        if delivery.kind == "dm":
            return Route(f"user:{where['user']}", METHODS["dm"])
        channel = where.get("channel") or previous.get("channel")
        return Route(f"channel:{channel}", METHODS.get(delivery.kind, ()))

    def send(self, delivery: Delivery) -> dict[str, Any]:
        conversation = self.route(delivery).conversation
        with self._watch:
            self.log.append(delivery.id)
            self._in_flight[conversation] += 1
            self.most_at_once = max(self.most_at_once, sum(self._in_flight.values()))
            self.most_in_one_conversation = max(
                self.most_in_one_conversation, self._in_flight[conversation]
            )
        try:
            where = {"channel": conversation.split(":", 1)[1]}  # what FakePlatform answers
            return super().send(dataclasses.replace(delivery, destination=where))
        finally:
            with self._watch:
                self._in_flight[conversation] -= 1


def _sent_in_order(platform: RoutedPlatform, ids: Sequence[int]) -> list[int]:
    wanted = set(ids)
    return [outbox_id for outbox_id in platform.sent_ids if outbox_id in wanted]


def test_rows_of_one_conversation_leave_one_at_a_time_in_order(
    engine: Engine, clock: FakeClock
) -> None:
    channels = {f"C{n}": [] for n in range(6)}  # type: dict[str, list[int]]
    for number in range(90):  # interleaved, so each claim mixes conversations
        channel = f"C{number % 6}"
        channels[channel].append(add(engine, f"post {number}", destination={"channel": channel}))
    platform = RoutedPlatform(pause=0.002)
    d = dispatcher(engine, clock, platform, workers=8)

    assert d.drain(timeout=60) is True
    assert platform.most_at_once > 1  # several conversations really were sent at once
    assert platform.most_in_one_conversation == 1
    for ids in channels.values():
        assert _sent_in_order(platform, ids) == ids
    assert Counter(platform.sent_ids) == Counter({i: 1 for ids in channels.values() for i in ids})


def test_an_edit_and_its_thread_notes_never_overtake_their_card(
    engine: Engine, clock: FakeClock
) -> None:
    card = add(engine, "card", destination={"channel": "C0TEAM"})
    thread = "incident:1:message:1"
    edit = add(engine, "edit", kind="update", destination={}, depends_on=card, ordering_key=thread)
    note = add(engine, "note", destination={"thread": True}, depends_on=card, ordering_key=thread)
    again = add(
        engine, "edit 2", kind="update", destination={}, depends_on=card, ordering_key=thread
    )
    others = [add(engine, f"other {n}", destination={"channel": f"C{n}"}) for n in range(40)]
    platform = RoutedPlatform(pause=0.002)

    assert dispatcher(engine, clock, platform, workers=8).drain(timeout=60) is True
    assert _sent_in_order(platform, [card, edit, note, again]) == [card, edit, note, again]
    assert set(platform.sent_ids) == {card, edit, note, again, *others}


def test_two_dispatchers_with_workers_send_every_row_once_and_threads_in_order(
    two_engines: Sequence[Engine],
) -> None:
    """Two replicas (SQLite and PostgreSQL), each sending on eight workers at once."""
    first_engine, _ = two_engines
    threads: dict[str, list[int]] = defaultdict(list)
    with session_scope(first_engine) as session:
        for number in range(240):
            key = f"thread-{number % 4}" if number % 3 == 0 else None
            outbox_id = enqueue(
                session,
                platform="slack",
                kind="post",
                destination={"channel": f"C{number % 9}"},
                reply=Reply(text=f"row {number}"),
                ordering_key=key,
            )
            assert outbox_id is not None
            if key:
                threads[key].append(outbox_id)
    log: list[int] = []  # what "Slack" saw, from both replicas
    platforms = [RoutedPlatform(pause=0.001, log=log) for _ in two_engines]
    replicas = [
        Dispatcher(engine, {"slack": p}, batch_size=20, workers=8, poll_interval=0.05)
        for engine, p in zip(two_engines, platforms, strict=True)
    ]
    for replica in replicas:
        replica.start()
    try:
        for replica in replicas:
            assert replica.drain(timeout=90) is True  # beside its own background thread
    finally:
        stopped = [replica.stop(timeout=30) for replica in replicas]

    assert stopped == [True, True]
    sent = Counter(platforms[0].sent_ids + platforms[1].sent_ids)
    assert len(sent) == 240
    assert set(sent.values()) == {1}, [i for i, n in sent.items() if n > 1]
    assert set(statuses(first_engine).values()) == {"sent"}
    for ids in threads.values():
        assert [i for i in log if i in set(ids)] == ids


def test_a_429_holds_back_every_row_of_its_method_without_spending_their_attempts(
    engine: Engine, clock: FakeClock
) -> None:
    limited = add(engine, "first", destination={"channel": "C1"})
    platform = RoutedPlatform()
    platform.script[limited] = [RetryLater("ratelimited", 30, method="chat.postMessage")]
    d = dispatcher(engine, clock, platform, workers=8)
    assert d.run_once() == 0

    posts = [add(engine, f"post {n}", destination={"channel": f"C{n + 2}"}) for n in range(3)]
    dm = add(engine, "page", kind="dm", destination={"user": "U1"})
    edit = add(engine, "edit", kind="update", destination={"channel": "C1", "ts": "1.2"})
    assert d.run_once() == 1

    assert platform.sent_ids == [edit]  # chat.update is not rate limited
    assert platform.called_ids == [limited, edit]  # the held rows never reached "Slack"
    for held in [*posts, dm]:
        stored = row(engine, held)
        assert (stored.status, stored.attempts) == ("pending", 0)
        assert stored.last_error == "held back: chat.postMessage is rate limited"
    assert row(engine, limited).attempts == 1

    clock.advance(30)  # Retry-After has passed: the method's gate is open again
    assert d.drain(timeout=30) is True
    assert sorted(platform.sent_ids) == sorted([edit, limited, *posts, dm])


def test_a_burst_into_one_channel_is_paced_and_keeps_its_order(
    engine: Engine, clock: FakeClock
) -> None:
    ids = [add(engine, f"burst {n}", destination={"channel": "C0TEAM"}) for n in range(8)]
    platform = RoutedPlatform(limits={"chat.postMessage": Limit(per_second=1.0, burst=3)})
    d = dispatcher(engine, clock, platform, workers=8, max_pace_wait=0.5)

    assert d.run_once() == 3  # the burst; the rest are handed back, not sent, not tried
    for waiting in ids[3:]:
        stored = row(engine, waiting)
        assert (stored.status, stored.attempts) == ("pending", 0)
    for _ in range(5):
        clock.advance(1)
        assert d.run_once() == 1  # then one a second
    assert platform.sent_ids == ids


@pytest.mark.parametrize("workers", [1, 8])
def test_a_page_queued_behind_500_digests_is_delivered_first(
    engine: Engine, clock: FakeClock, workers: int
) -> None:
    digests = [
        add(engine, f"digest {n}", destination={"channel": f"C{n:03d}"}, priority=PRIORITY_BULK)
        for n in range(500)
    ]
    page = add(
        engine, "P0 page", kind="dm", destination={"user": "U0ONCALL"}, priority=PRIORITY_PAGE
    )
    platform = RoutedPlatform()

    assert dispatcher(engine, clock, platform, workers=workers).drain(timeout=60) is True
    # At the fake: first of all with one worker; with eight, in the first wave of sends.
    assert platform.log.index(page) < workers
    assert sorted(platform.sent_ids) == sorted([*digests, page])


def test_a_page_enqueued_during_a_digest_burst_overtakes_the_rest(engine: Engine) -> None:
    for n in range(500):
        add(engine, f"digest {n}", destination={"channel": f"C{n:03d}"}, priority=PRIORITY_BULK)
    platform = RoutedPlatform(pause=0.002)
    d = Dispatcher(engine, {"slack": platform}, workers=8, poll_interval=600)
    d.start()
    try:
        assert platform.delivered.wait(30)  # the burst is under way
        page = add(engine, "P0 page", kind="dm", destination={"user": "U1"}, priority=PRIORITY_PAGE)
        d.wake()
        assert d.drain(timeout=60) is True
    finally:
        assert d.stop(timeout=30) is True

    before_page = platform.log.index(page)
    assert before_page < 500 - 200  # at least 200 digests were still waiting: it went first


def test_a_stop_while_the_loop_waits_for_the_pass_lock_still_stops_it(engine: Engine) -> None:
    """The loop woke and queued for the pass lock (held here, as a drain() would hold it);
    stop() came meanwhile. The pump then cleared the wake flag before claiming: the loop
    must see `_stopping` rather than sleep out its poll interval (10 min here)."""
    d = Dispatcher(engine, {"slack": RoutedPlatform()}, poll_interval=600)
    d.start()
    stopped: list[bool] = []
    stopper = threading.Thread(target=lambda: stopped.append(d.stop(timeout=5)))
    with d._pass_lock:
        d.wake()  # the loop leaves its wait and blocks on the lock
        threading.Event().wait(0.2)
        stopper.start()  # sets `_stopping` and the wake flag, then joins the loop
        threading.Event().wait(0.2)
    stopper.join()
    assert stopped == [True]
