"""A Teams question writes nothing (issue 8, items 1 and 3), on SQLite and PostgreSQL.

Who owns, owns, help, an incident's status and every refusal or usage message are answered
with exactly one reply activity sent in the turn itself: no outbox row, no conversation
reference rewritten, no other INSERT, UPDATE or DELETE. Statements are counted with
SQLAlchemy's `before_cursor_execute` on the running app's own engine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.event import listen, remove

from launchops.config import load_config
from launchops.delivery.outbox import PENDING, SENDING, outbox_table
from launchops.services.config_sync import config_digest
from launchops.store import session_scope
from launchops.store.models import Component, ConfigRevision
from tests.conftest import CONFIG_DIR
from tests.e2e.harness import (
    RunningApp,
    make_settings,
    on_background_thread,
    running_app,
    wait_for_quiet_store,
)
from tests.e2e.test_teams_e2e import card_of, message, post, reply_to
from tests.fakes.teams_connector import FakeBotConnector

pytestmark = pytest.mark.e2e

WRITES = ("insert", "update", "delete")
QUESTIONS = [
    "who owns rag",
    "owner guardrails",
    "owns Data team",
    "help",
    "incident status",
    "incident status 1",
    "incident severity 1",  # the choices, not a change
    "who owns retreiver",  # not found: suggestions
    "incident p9 rag: nonsense",  # a usage message
    "incident ack 999",  # a refusal: no such incident
]


@contextmanager
def store_writes(engine: Engine, *, reads: bool = False) -> Iterator[list[str]]:
    """Every INSERT, UPDATE and DELETE (and with `reads`, every statement) the app sends to
    the store inside the block, but for its own background threads' (scheduler, dispatcher)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if on_background_thread():  # the scheduler's sweeps, the dispatcher
            return
        if reads or statement.lstrip().lower().startswith(WRITES):
            seen.append(statement)

    listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        remove(engine, "before_cursor_execute", record)


def wait_for_outbox_drained(app: RunningApp) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with app.ctx.engine.connect() as connection:
            busy = connection.execute(
                select(func.count())
                .select_from(outbox_table)
                .where(outbox_table.c.status.in_((PENDING, SENDING)))
            ).scalar_one()
        if busy == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the outbox never drained")


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        yield fake
        fake.assert_valid()


@pytest.fixture
def app(db_url: str, connector: FakeBotConnector) -> Iterator[RunningApp]:
    settings = make_settings(
        db_url, LAUNCHOPS_TEAMS_SERVICE_URL=connector.url, LAUNCHOPS_TEAMS_ANONYMOUS="true"
    )
    with running_app(settings) as running:
        wait_for_quiet_store(running)  # the scheduler's start-up work (a roadmap nudge)
        yield running


def test_a_question_writes_nothing_and_is_one_reply_in_the_turn(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    # A decision first: it writes (the incident, its pages, this chat's reference) and gives
    # `incident status` something to show. Its deliveries finish before anything is counted.
    declaration = message(connector, "incident p2 rag: answers are slow")
    assert post(app, declaration).status_code == 200
    reply_to(connector, declaration)
    wait_for_outbox_drained(app)
    with app.ctx.engine.connect() as connection:
        rows_before = connection.execute(select(func.count()).select_from(outbox_table)).one()

    for text in QUESTIONS:
        sent_before = len(connector.activities())
        activity = message(connector, text)
        with store_writes(app.ctx.engine) as writes:
            response = post(app, activity)
        assert response.status_code == 200, (text, response.text)
        assert writes == [], (text, writes)
        # Sent before the HTTP answer: already at the Connector, with nothing else.
        sent = connector.activities()[sent_before:]
        assert [(r.route, r.activity_id) for r in sent] == [
            ("reply_to_activity", activity["id"])
        ], text
        assert sent[0].text or sent[0].cards, text
    with app.ctx.engine.connect() as connection:
        rows_after = connection.execute(select(func.count()).select_from(outbox_table)).one()
    assert rows_after == rows_before


def test_the_first_message_of_a_chat_stores_its_reference_and_a_repeat_writes_nothing(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    first = message(connector, "help")
    with store_writes(app.ctx.engine) as writes:
        assert post(app, first).status_code == 200
    assert writes and all("conversationref" in w.lower() for w in writes)  # pages need it
    with store_writes(app.ctx.engine, reads=True) as statements:
        assert post(app, message(connector, "help")).status_code == 200
    # Remembered in memory: not even read back to compare.
    assert [s for s in statements if "conversationref" in s.lower()] == []


def _rename_retriever(app: RunningApp) -> None:
    """Another process's `config sync` after catalog.yaml renamed the retriever: written
    straight to the store, so nothing in this process is told."""
    config = load_config(CONFIG_DIR)
    with session_scope(app.ctx.engine) as session:
        component = session.get(Component, "retriever")
        assert component is not None
        component.name = "Finder"
        session.add(component)
        session.add(
            ConfigRevision(digest="elsewhere" + config_digest(config)[:55], source="elsewhere")
        )


def test_a_config_synced_by_another_process_is_answered_within_moments(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    first = message(connector, "who owns rag")
    assert post(app, first).status_code == 200
    assert card_of(reply_to(connector, first))["body"][0]["text"] == "Retriever — who owns it"
    _rename_retriever(app)
    deadline = time.monotonic() + 10
    title = ""
    while time.monotonic() < deadline and title != "Finder — who owns it":
        again = message(connector, "who owns rag")
        assert post(app, again).status_code == 200
        title = card_of(reply_to(connector, again))["body"][0]["text"]
        time.sleep(0.1)
    assert title == "Finder — who owns it"
