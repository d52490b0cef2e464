"""Units of work: effects after the commit, and the dispatcher woken only for outbox rows."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from launchops.delivery import outbox
from launchops.messages.reply import Reply
from launchops.services import audit
from launchops.services.incident_state import after_commit, unit_of_work


def test_a_unit_that_queues_a_message_wakes_the_dispatcher_after_its_effects(
    engine: Engine,
) -> None:
    calls: list[str] = []
    with unit_of_work(engine, lambda: calls.append("wake")) as session:
        after_commit(session, lambda: calls.append("effect"))
        outbox.enqueue(
            session, platform="slack", kind="dm", destination={"user": "U1"}, reply=Reply(text="x")
        )
        assert calls == []
    assert calls == ["effect", "wake"]


def test_a_unit_that_queues_nothing_leaves_the_dispatcher_asleep(engine: Engine) -> None:
    """A P3 declaration writes its incident and audit line, and nothing to send."""
    calls: list[str] = []
    with unit_of_work(engine, lambda: calls.append("wake")) as session:
        after_commit(session, lambda: calls.append("effect"))
        audit.record(session, actor="test", action="test.nothing_to_send", subject="test:1")
    assert calls == ["effect"]


def test_a_unit_that_rolls_back_neither_runs_effects_nor_wakes(engine: Engine) -> None:
    calls: list[str] = []

    def failing_unit() -> None:
        with unit_of_work(engine, lambda: calls.append("wake")) as session:
            after_commit(session, lambda: calls.append("effect"))
            outbox.enqueue(
                session,
                platform="slack",
                kind="dm",
                destination={"user": "U1"},
                reply=Reply(text="x"),
            )
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        failing_unit()
    assert calls == []
