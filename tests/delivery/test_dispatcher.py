"""The dispatcher: sending, retries, dependencies and order within a thread.

The platform is played by `FakePlatform` and time by `FakeClock` (tests/delivery/support.py).
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from launchops.delivery.dispatcher import Dispatcher
from launchops.delivery.outbox import outbox_table, pending_count, result_of
from launchops.delivery.sender import PermanentFailure, RetryLater
from launchops.messages.reply import Reply
from tests.delivery.support import (
    FakeClock,
    FakePlatform,
    add,
    dispatcher,
    row,
    sample,
    statuses,
)

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
