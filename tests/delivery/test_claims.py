"""The dispatcher's claims and leases, replicas racing for rows, and its background thread."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from launchops.delivery.dispatcher import ClaimedDelivery, Dispatcher
from launchops.delivery.outbox import enqueue, outbox_table
from launchops.delivery.sender import Delivery, PermanentFailure, RetryLater
from launchops.messages.reply import Reply
from launchops.store import make_engine, session_scope
from tests.delivery.support import (
    FakeClock,
    FakePlatform,
    add,
    dispatcher,
    row,
    statuses,
)

# -- claims ---------------------------------------------------------------------------------


def _claim_by_someone_else(engine: Engine, outbox_id: int, until: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(outbox_table)
            .where(outbox_table.c.id == outbox_id)
            .values(status="sending", claimed_until=until)
        )


def test_a_crashed_claim_is_delivered_once_its_lease_runs_out(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    outbox_id = add(engine)
    _claim_by_someone_else(engine, outbox_id, until=clock.now + timedelta(seconds=30))
    d = dispatcher(engine, clock, slack)

    assert d.run_once() == 0  # another replica holds it
    assert slack.calls == []
    clock.advance(31)  # ... and never finished: its lease has run out
    assert d.run_once() == 1
    assert slack.sent_ids == [outbox_id]
    assert row(engine, outbox_id).status == "sent"


def test_a_claim_sets_the_lease(engine: Engine, clock: FakeClock, slack: FakePlatform) -> None:
    outbox_id = add(engine, "secret words")
    d = dispatcher(engine, clock, slack, claim_ttl=45)
    (claimed,) = d.claim_due(10)
    assert isinstance(claimed, ClaimedDelivery)
    assert "secret words" not in repr(claimed)  # tracebacks with locals show this repr
    assert claimed.claimed_until == clock.now + timedelta(seconds=45)
    stored = row(engine, outbox_id)
    assert (stored.status, stored.claimed_until) == ("sending", clock.now + timedelta(seconds=45))
    assert d.claim_due(10) == []  # claimed rows are not claimed again


def test_an_outcome_is_not_recorded_once_the_claim_was_taken_over(
    engine: Engine, clock: FakeClock
) -> None:
    outbox_id = add(engine)
    slow, rescuer = FakePlatform("slack"), FakePlatform("slack")
    slow.script[outbox_id] = [PermanentFailure("channel_not_found")]
    stalled = dispatcher(engine, clock, slow, claim_ttl=10)
    (late,) = stalled.claim_due(10)

    clock.advance(11)  # the stalled dispatcher's lease ran out; another one took the row
    rescue = dispatcher(engine, clock, rescuer, claim_ttl=10)
    (fresh,) = rescue.claim_due(10)
    assert isinstance(fresh, ClaimedDelivery)

    # The stalled one finishes first: its outcome (dead) must not touch the rescuer's claim.
    assert stalled.deliver(late) is False
    stored = row(engine, outbox_id)
    assert (stored.status, stored.claimed_until, stored.attempts) == (
        "sending",
        fresh.claimed_until,
        0,
    )
    assert rescue.deliver(fresh) is True
    stored = row(engine, outbox_id)
    assert (stored.status, stored.attempts) == ("sent", 1)
    assert stored.result == {"ts": f"1700000000.{outbox_id:06d}", "channel": "C0MLTEAM"}


def test_a_row_taken_between_read_and_claim_is_not_taken_again(
    db_url: str, clock: FakeClock
) -> None:
    """Another replica claims and sends the row while we hold it as a candidate.

    On SQLite the compare-and-set sees the row changed; on PostgreSQL our candidate read
    locked it, so the other replica skips it (with a lock timeout, not a hang, if it waited).
    """
    options: dict[str, Any] = {}
    if db_url.startswith("postgresql"):
        options["connect_args"] = {"options": "-c lock_timeout=5000"}
    ours_engine, theirs_engine = make_engine(db_url), make_engine(db_url, **options)
    try:
        outbox_id = add(ours_engine)
        ours, theirs = FakePlatform("slack"), FakePlatform("slack")
        other_replica = dispatcher(theirs_engine, clock, theirs)

        class Interrupted(Dispatcher):
            def _take_rows(self, conn: Any, rows: Any, lease: datetime) -> Any:
                assert [r.id for r in rows] == [outbox_id]  # read as a candidate...
                other_replica.run_once()  # ... then sent by another replica
                return super()._take_rows(conn, rows, lease)

        slow = Interrupted(ours_engine, {"slack": ours}, clock=clock)
        slow.run_once()
        assert Counter(ours.sent_ids + theirs.sent_ids) == {outbox_id: 1}
        assert row(ours_engine, outbox_id).status == "sent"
    finally:
        ours_engine.dispose()
        theirs_engine.dispose()


def test_deliver_refuses_a_delivery_it_did_not_claim(engine: Engine, clock: FakeClock) -> None:
    d = dispatcher(engine, clock, FakePlatform())
    unclaimed = Delivery(
        id=1, platform="slack", kind="post", destination={}, reply=Reply(text="x"), attempt=1
    )
    with pytest.raises(TypeError, match="claim_due"):
        d.deliver(unclaimed)


def test_a_platform_without_a_sender_waits_for_one(engine: Engine, clock: FakeClock) -> None:
    teams_row = add(engine, "for teams", platform="teams", destination={"channel": "19:x"})
    slack_row = add(engine, "for slack")
    slack = FakePlatform("slack")

    assert dispatcher(engine, clock, slack).run_once() == 1
    assert slack.sent_ids == [slack_row]
    stored = row(engine, teams_row)
    assert (stored.status, stored.attempts) == ("pending", 0)
    assert stored.last_error == "no sender for teams"

    teams = FakePlatform("teams")  # a later start with the Teams adapter configured
    assert dispatcher(engine, clock, slack, teams).run_once() == 1
    assert teams.sent_ids == [teams_row]


def test_a_missing_sender_at_delivery_time_releases_the_claim(
    engine: Engine, clock: FakeClock
) -> None:
    outbox_id = add(engine)
    d = dispatcher(engine, clock, FakePlatform("slack"))
    (claimed,) = d.claim_due(1)
    d._senders.clear()  # the adapter went away between claim and send
    assert d.deliver(claimed) is False
    stored = row(engine, outbox_id)
    assert (stored.status, stored.attempts, stored.claimed_until) == ("pending", 0, None)
    assert stored.last_error == "no sender for slack"


# -- replicas -------------------------------------------------------------------------------


def test_two_replicas_racing_send_every_row_exactly_once(two_engines: Sequence[Engine]) -> None:
    first_engine, second_engine = two_engines
    with session_scope(first_engine) as session:
        ids = [
            enqueue(
                session,
                platform="slack",
                kind="post",
                destination={"channel": f"C{n % 7}"},
                reply=Reply(text=f"page {n}"),
                ordering_key=f"thread-{n % 5}" if n % 3 == 0 else None,
            )
            for n in range(200)
        ]
    platforms = [FakePlatform("slack", pause=0.001), FakePlatform("slack", pause=0.001)]
    replicas = [
        Dispatcher(engine, {"slack": platform}, batch_size=7, base_delay=0.001, max_delay=0.001)
        for engine, platform in zip(two_engines, platforms, strict=True)
    ]
    start = threading.Barrier(len(replicas))
    finished: list[bool] = []
    errors: list[BaseException] = []

    def run(replica: Dispatcher) -> None:
        try:
            start.wait()
            finished.append(replica.drain(timeout=90))
        except BaseException as exc:  # surfaced by the assertions below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(replica,)) for replica in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    assert finished == [True, True]
    sent = Counter(platforms[0].sent_ids + platforms[1].sent_ids)
    assert len(sent) == 200
    assert set(sent) == set(ids)
    assert set(sent.values()) == {1}, [i for i, n in sent.items() if n > 1]
    assert set(statuses(second_engine).values()) == {"sent"}


# -- the background thread ------------------------------------------------------------------


class WatchedDispatcher(Dispatcher):
    """Signals each claim pass, so the test knows the thread is idle in its poll wait."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.polled = threading.Event()

    def claim_due(self, limit: int | None = None, *, tidy: bool = True) -> list[Delivery]:
        claimed = super().claim_due(limit, tidy=tidy)
        self.polled.set()
        return claimed


def test_start_wake_and_stop(engine: Engine, slack: FakePlatform) -> None:
    # The poll interval is far longer than the wait below: only wake() can deliver in time.
    d = WatchedDispatcher(engine, {"slack": slack}, poll_interval=600)
    d.start()
    try:
        assert d.polled.wait(10)
        with pytest.raises(RuntimeError, match="already started"):
            d.start()
        outbox_id = add(engine, "wake up")
        d.wake()
        assert slack.delivered.wait(10)
        assert slack.sent_ids == [outbox_id]
    finally:
        assert d.stop(timeout=10) is True
    assert not any(t.name == "launchops-outbox-dispatcher" for t in threading.enumerate())
    assert d.stop() is True  # stopping twice is harmless


class BlockingPlatform(FakePlatform):
    """Holds its first send until released, so the test can stop the dispatcher mid-batch."""

    def __init__(self) -> None:
        super().__init__("slack")
        self.entered = threading.Event()
        self.release = threading.Event()

    def send(self, delivery: Delivery) -> dict[str, Any]:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(30)
        return super().send(delivery)


def test_stop_hands_back_claims_it_has_not_started(engine: Engine) -> None:
    first, second, third = (add(engine, f"page {n}") for n in range(3))
    platform = BlockingPlatform()
    d = Dispatcher(engine, {"slack": platform}, poll_interval=600, batch_size=10)
    d.start()
    assert platform.entered.wait(10)  # the whole batch is claimed, the first send in flight
    assert d.stop(timeout=0) is False  # asked to stop while sending: it is still running
    platform.release.set()
    assert d.stop(timeout=10) is True

    assert platform.sent_ids == [first]
    for outbox_id in (second, third):
        stored = row(engine, outbox_id)
        assert (stored.status, stored.claimed_until, stored.attempts) == ("pending", None, 0)
    assert d.drain(timeout=10) is True  # a stopped dispatcher can still drain on demand
    assert platform.sent_ids == [first, second, third]


def test_drain_reports_what_is_left(engine: Engine, clock: FakeClock, slack: FakePlatform) -> None:
    done = add(engine, "now")
    later = add(engine, "rate limited")
    slack.script[later] = [RetryLater("HTTP 429", after_seconds=3600)]
    d = dispatcher(engine, clock, slack)

    assert d.drain(timeout=5) is False  # one is waiting out an hour-long Retry-After
    assert statuses(engine) == {done: "sent", later: "pending"}
    clock.advance(3600)
    assert d.drain(timeout=5) is True
    assert statuses(engine) == {done: "sent", later: "sent"}


def test_a_claim_queued_past_half_its_lease_is_handed_back_untried(
    engine: Engine, clock: FakeClock
) -> None:
    """A row that waited in its lane too long is not sent on a lease about to run out."""
    outbox_id = add(engine)
    platform = FakePlatform("slack")
    d = dispatcher(engine, clock, platform, claim_ttl=10)
    (claimed,) = d.claim_due(1)
    clock.advance(6)  # 4 s of the 10 s lease left

    assert d.deliver(claimed) is False
    assert platform.calls == []
    stored = row(engine, outbox_id)
    assert (stored.status, stored.attempts, stored.claimed_until) == ("pending", 0, None)
    assert d.run_once() == 1  # claimed afresh, with a whole lease
    assert platform.sent_ids == [outbox_id]
