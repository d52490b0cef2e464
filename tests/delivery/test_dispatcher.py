"""The dispatcher: claims, retries, dependencies, ordering, and replicas racing for rows.

The platform is played by `FakePlatform`, a recording Sender whose answers are scripted per
outbox id. Time is a `FakeClock` injected into the dispatcher, so backoff and Retry-After are
checked by moving the clock, never by sleeping.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from launchops.delivery.dispatcher import ClaimedDelivery, Dispatcher
from launchops.delivery.outbox import enqueue, outbox_table, pending_count, result_of
from launchops.delivery.sender import Delivery, PermanentFailure, RetryLater
from launchops.messages.reply import Reply
from launchops.store import make_engine, session_scope
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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slack() -> FakePlatform:
    return FakePlatform("slack")


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


# -- the happy path -------------------------------------------------------------------------


def test_a_due_message_is_sent_once_and_its_result_stored(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    outbox_id = add(engine, "P1 declared", destination={"channel": "C1", "thread_ts": "9.1"})
    sent_before = sample("launchops_outbox_deliveries_total", platform="slack", outcome="sent")
    lag_before = sample("launchops_outbox_lag_seconds_count", platform="slack")
    d = dispatcher(engine, clock, slack)

    assert d.run_once() == 1
    assert d.run_once() == 0  # nothing is sent twice

    (delivery,) = slack.sent
    assert (delivery.id, delivery.kind, delivery.attempt) == (outbox_id, "post", 1)
    assert delivery.reply == Reply(text="P1 declared")
    assert delivery.destination == {"channel": "C1", "thread_ts": "9.1"}
    assert delivery.extra == {}
    stored = row(engine, outbox_id)
    assert (stored.status, stored.attempts, stored.sent_at) == ("sent", 1, clock.now)
    assert stored.claimed_until is None
    with Session(engine) as session:
        assert result_of(session, outbox_id) == {
            "ts": f"1700000000.{outbox_id:06d}",
            "channel": "C1",
        }
        assert pending_count(session) == 0
    assert sample("launchops_outbox_deliveries_total", platform="slack", outcome="sent") == (
        sent_before + 1
    )
    assert sample("launchops_outbox_lag_seconds_count", platform="slack") == lag_before + 1


def test_not_before_holds_a_message_back(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    add(engine, "reminder", not_before=clock.now + timedelta(seconds=30))
    d = dispatcher(engine, clock, slack)
    assert d.run_once() == 0
    clock.advance(30)
    assert d.run_once() == 1


def test_a_batch_goes_out_oldest_first(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    ids = [add(engine, f"message {n}") for n in range(5)]
    d = dispatcher(engine, clock, slack, batch_size=3)
    assert d.run_once() == 3
    assert d.run_once() == 2
    assert slack.sent_ids == ids


# -- retries --------------------------------------------------------------------------------


def test_retry_after_is_honoured_then_the_message_is_delivered_once(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    outbox_id = add(engine)
    slack.script[outbox_id] = [RetryLater("HTTP 429", after_seconds=1.0) for _ in range(3)]
    retries_before = sample("launchops_outbox_deliveries_total", platform="slack", outcome="retry")
    d = dispatcher(engine, clock, slack)

    for attempt in (1, 2, 3):
        assert d.run_once() == 0
        stored = row(engine, outbox_id)
        assert (stored.status, stored.attempts, stored.last_error) == (
            "pending",
            attempt,
            "HTTP 429",
        )
        assert stored.next_attempt_at - clock.now >= timedelta(seconds=1)
        clock.advance(0.5)
        assert d.run_once() == 0  # half the Retry-After: not asked again yet
        assert len(slack.calls) == attempt
        clock.advance(0.5)

    assert d.run_once() == 1
    assert slack.calls == [(outbox_id, 1), (outbox_id, 2), (outbox_id, 3), (outbox_id, 4)]
    assert slack.sent_ids == [outbox_id]
    assert row(engine, outbox_id).status == "sent"
    assert sample("launchops_outbox_deliveries_total", platform="slack", outcome="retry") == (
        retries_before + 3
    )


def test_retry_after_is_a_floor_under_a_larger_backoff(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    outbox_id = add(engine)
    slack.script[outbox_id] = [RetryLater("HTTP 429", after_seconds=2.0)]
    d = dispatcher(engine, clock, slack, base_delay=60.0, max_delay=60.0)
    d.run_once()
    wait = row(engine, outbox_id).next_attempt_at - clock.now
    assert timedelta(seconds=2) <= wait <= timedelta(seconds=60)


def test_backoff_is_exponential_with_full_jitter_and_capped(engine: Engine) -> None:
    d = Dispatcher(engine, {}, base_delay=1.0, max_delay=10.0, rng=random.Random(1))
    for attempts, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (500, 10.0)]:
        delays = [d.backoff(attempts) for _ in range(200)]
        assert all(0.0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling * 0.8  # the whole range is used, not a fixed step
        assert min(delays) < ceiling * 0.2


def test_a_server_error_is_retried_and_delivered_once(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    outbox_id = add(engine)
    slack.script[outbox_id] = [RuntimeError("HTTP 500"), RuntimeError("HTTP 503")]
    d = dispatcher(engine, clock, slack)

    assert d.run_once() == 0
    assert row(engine, outbox_id).last_error == "RuntimeError: HTTP 500"
    clock.advance(1)
    assert d.run_once() == 0
    clock.advance(1)
    assert d.run_once() == 1
    clock.advance(1)
    assert d.run_once() == 0

    assert slack.sent_ids == [outbox_id]
    assert len(slack.calls) == 3
    stored = row(engine, outbox_id)
    assert (stored.status, stored.attempts) == ("sent", 3)


def test_permanent_failure_is_dead_at_once(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    outbox_id = add(engine)
    slack.script[outbox_id] = [PermanentFailure("channel_not_found")]
    dead_before = sample("launchops_outbox_deliveries_total", platform="slack", outcome="dead")
    d = dispatcher(engine, clock, slack)

    assert d.run_once() == 0
    clock.advance(3600)
    assert d.run_once() == 0

    assert len(slack.calls) == 1
    stored = row(engine, outbox_id)
    assert (stored.status, stored.attempts, stored.last_error) == ("dead", 1, "channel_not_found")
    with Session(engine) as session:
        assert pending_count(session) == 0
    assert sample("launchops_outbox_deliveries_total", platform="slack", outcome="dead") == (
        dead_before + 1
    )


def test_on_dead_is_told_once_of_each_row_given_up_and_its_failures_are_contained(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    """The hook the incident service uses to learn of refused pages: called once per row
    that dies (refused for good, or out of attempts), never for one that was sent; a hook
    that raises leaves the row recorded dead and the dispatcher running."""
    refused, exhausted, fine = add(engine, "a"), add(engine, "b"), add(engine, "c")
    slack.script[refused] = [PermanentFailure("Slack answered 200 account_inactive")]
    slack.script[exhausted] = [RetryLater("HTTP 503"), RetryLater("HTTP 503")]
    told: list[tuple[int, str]] = []

    def on_dead(outbox_id: int, error: str) -> None:
        told.append((outbox_id, error))
        raise RuntimeError("the hook's store is down")

    d = dispatcher(engine, clock, slack, max_attempts=2, on_dead=on_dead)
    for _ in range(4):
        d.run_once()
        clock.advance(1)

    assert told == [
        (refused, "Slack answered 200 account_inactive"),
        (exhausted, "gave up after 2 attempts: HTTP 503"),
    ]
    assert [row(engine, i).status for i in (refused, exhausted, fine)] == ["dead", "dead", "sent"]


def test_running_out_of_attempts_is_dead(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    outbox_id = add(engine)
    slack.script[outbox_id] = [RetryLater("HTTP 503") for _ in range(10)]
    d = dispatcher(engine, clock, slack, max_attempts=3)

    for _ in range(5):
        assert d.run_once() == 0
        clock.advance(1)

    assert [attempt for _, attempt in slack.calls] == [1, 2, 3]
    stored = row(engine, outbox_id)
    assert (stored.status, stored.attempts) == ("dead", 3)
    assert stored.last_error == "gave up after 3 attempts: HTTP 503"


def test_a_long_error_is_truncated_to_the_column(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    outbox_id = add(engine)
    slack.script[outbox_id] = [PermanentFailure("invalid_blocks " + "x" * 5000)]
    dispatcher(engine, clock, slack).run_once()
    stored = row(engine, outbox_id)
    assert stored.status == "dead"
    assert stored.last_error is not None
    assert stored.last_error.startswith("invalid_blocks x")
    assert len(stored.last_error) == 2000


def test_a_payload_that_is_not_a_reply_is_dead_without_being_sent(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    outbox_id = add(engine)
    with engine.begin() as conn:
        conn.execute(
            update(outbox_table)
            .where(outbox_table.c.id == outbox_id)
            .values(payload={"txt": "secret words"})
        )
    assert dispatcher(engine, clock, slack).run_once() == 0
    assert slack.calls == []
    stored = row(engine, outbox_id)
    assert stored.status == "dead"
    assert stored.last_error is not None
    assert "not a valid Reply" in stored.last_error
    assert "secret words" not in stored.last_error


# -- dependencies and order -----------------------------------------------------------------


def test_an_update_waits_for_its_post_and_gets_its_result(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    post = add(engine, "incident declared")
    edit = add(engine, "incident acknowledged", kind="update", depends_on=post)
    slack.script[post] = [RetryLater("HTTP 503")]
    d = dispatcher(engine, clock, slack)

    assert d.run_once() == 0  # the post failed; the update must not go ahead of it
    assert slack.called_ids == [post]
    clock.advance(1)
    while d.run_once():
        pass

    assert slack.sent_ids == [post, edit]
    update_delivery = slack.sent[1]
    assert update_delivery.kind == "update"
    assert update_delivery.extra == {"depends_on_result": row(engine, post).result}
    assert update_delivery.extra["depends_on_result"]["ts"] == f"1700000000.{post:06d}"


def test_a_dead_dependency_makes_its_dependent_dead(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    post = add(engine, "incident declared")
    edit = add(engine, "incident acknowledged", kind="update", depends_on=post)
    after_edit = add(engine, "resolved", kind="update", depends_on=edit)
    slack.script[post] = [PermanentFailure("channel_not_found")]
    d = dispatcher(engine, clock, slack)

    for _ in range(3):
        d.run_once()

    assert slack.called_ids == [post]
    assert statuses(engine) == {post: "dead", edit: "dead", after_edit: "dead"}
    assert row(engine, edit).last_error == f"dependency outbox #{post} is dead or missing"
    assert row(engine, after_edit).last_error == f"dependency outbox #{edit} is dead or missing"


def test_messages_sharing_an_ordering_key_go_out_in_order(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    thread = "slack:C0MLTEAM:1700000000.000100"
    first = add(engine, "1", ordering_key=thread)
    second = add(engine, "2", ordering_key=thread)
    third = add(engine, "3", ordering_key=thread)
    unordered = add(engine, "elsewhere")
    other_thread = add(engine, "other thread", ordering_key="slack:C0MLTEAM:other")
    slack.script[first] = [RetryLater("HTTP 429", after_seconds=5), RuntimeError("HTTP 502")]
    d = dispatcher(engine, clock, slack)

    assert d.run_once() == 2  # the others in the thread wait behind the failing first
    assert slack.sent_ids == [unordered, other_thread]
    for _ in range(6):
        clock.advance(5)
        d.run_once()

    assert slack.sent_ids == [unordered, other_thread, first, second, third]
    assert slack.called_ids == [first, unordered, other_thread, first, first, second, third]


def test_a_dead_message_does_not_block_its_thread(
    engine: Engine, clock: FakeClock, slack: FakePlatform
) -> None:
    first = add(engine, "1", ordering_key="thread")
    second = add(engine, "2", ordering_key="thread")
    slack.script[first] = [PermanentFailure("message_not_found")]
    d = dispatcher(engine, clock, slack)
    d.run_once()
    d.run_once()
    assert statuses(engine) == {first: "dead", second: "sent"}


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


@pytest.fixture
def two_engines(db_url: str) -> Iterator[Sequence[Engine]]:
    """Two engines on one database: separate connection pools, as two replicas have."""
    engines = [make_engine(db_url), make_engine(db_url)]
    yield engines
    for engine in engines:
        engine.dispose()


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
