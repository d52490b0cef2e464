"""Enqueueing rides on the caller's transaction: both commit, or neither does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from launchops.delivery.outbox import enqueue, pending_count, result_of
from launchops.messages.reply import Action, Card, Field, Reply
from launchops.store import session_scope
from launchops.store.models import AuditEntry, OutboxMessage
from launchops.store.types import utcnow

REPLY = Reply(
    text="P1 incident #7: retriever down",
    card=Card(
        title="Retriever down",
        fields=(Field(label="Severity", value="P1"),),
        actions=(Action(id="ack", label="Acknowledge", value="7", style="primary"),),
    ),
)


def _enqueue(session: Session, **kwargs: object) -> int | None:
    arguments: dict[str, object] = {
        "platform": "slack",
        "kind": "post",
        "destination": {"channel": "C0MLTEAM"},
        "reply": REPLY,
    }
    arguments.update(kwargs)
    return enqueue(session, **arguments)  # type: ignore[arg-type]


def _audit(session: Session, action: str) -> None:
    session.add(AuditEntry(actor="alice", action=action, subject="incident:7"))


def test_enqueue_stores_the_reply_as_json_in_the_callers_transaction(engine: Engine) -> None:
    not_before = utcnow() + timedelta(minutes=5)
    with session_scope(engine) as session:
        outbox_id = _enqueue(
            session,
            kind="update",
            destination={"channel": "C0MLTEAM", "ts": "1.2"},
            depends_on=41,
            ordering_key="slack:C0MLTEAM:1.2",
            locale="ko",
            not_before=not_before,
        )
    assert isinstance(outbox_id, int)

    with Session(engine) as session:
        row = session.get(OutboxMessage, outbox_id)
        assert row is not None
        assert Reply.model_validate(row.payload) == REPLY
        assert row.payload == REPLY.model_dump(mode="json")
        assert (row.platform, row.kind, row.status, row.attempts) == (
            "slack",
            "update",
            "pending",
            0,
        )
        assert row.destination == {"channel": "C0MLTEAM", "ts": "1.2"}
        assert (row.depends_on, row.ordering_key, row.locale) == (41, "slack:C0MLTEAM:1.2", "ko")
        assert row.next_attempt_at == not_before
        assert pending_count(session) == 1
        assert result_of(session, outbox_id) is None  # not sent yet


def test_each_enqueue_gets_its_own_id(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = _enqueue(session)
        second = _enqueue(session)
    assert first is not None
    assert second is not None
    assert first != second
    with Session(engine) as session:
        assert pending_count(session) == 2


def test_duplicate_dedupe_key_inserts_nothing_and_keeps_the_callers_work(engine: Engine) -> None:
    with session_scope(engine) as session:
        _audit(session, "declare")
        first = _enqueue(session, dedupe_key="page:7:alice")
    assert first is not None

    # A Slack retry of the same request: its own state change must still commit even though
    # the message is a duplicate (on PostgreSQL a failed INSERT would abort the transaction).
    with session_scope(engine) as session:
        _audit(session, "retry-before")
        session.flush()
        assert _enqueue(session, dedupe_key="page:7:alice") is None
        _audit(session, "retry-after")

    with Session(engine) as session:
        actions = sorted(session.exec(select(AuditEntry.action)).all())
        assert actions == ["declare", "retry-after", "retry-before"]
        rows = session.exec(select(OutboxMessage)).all()
        assert [row.id for row in rows] == [first]
        assert pending_count(session) == 1


def test_duplicate_dedupe_key_within_one_transaction(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert _enqueue(session, dedupe_key="digest:ml:2026-W47") is not None
        assert _enqueue(session, dedupe_key="digest:ml:2026-W47") is None
        assert _enqueue(session, dedupe_key="digest:ml:2026-W48") is not None
    with Session(engine) as session:
        assert pending_count(session) == 2


def _declare_then_fail(engine: Engine) -> None:
    with session_scope(engine) as session:
        _audit(session, "declare")
        assert _enqueue(session, dedupe_key="page:8:bob") is not None
        raise RuntimeError("declaration failed")


def test_rollback_of_the_callers_transaction_leaves_no_message(engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="declaration failed"):
        _declare_then_fail(engine)

    with Session(engine) as session:
        assert pending_count(session) == 0
        assert session.exec(select(AuditEntry)).all() == []
    # The dedupe key was never taken, so the retried declaration can enqueue it.
    with session_scope(engine) as session:
        assert _enqueue(session, dedupe_key="page:8:bob") is not None


def test_result_of_an_unknown_id_is_none(engine: Engine) -> None:
    with Session(engine) as session:
        assert result_of(session, 12345) is None
        assert pending_count(session) == 0
