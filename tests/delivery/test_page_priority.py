"""The priority an incident gives its outbox rows: pages above everything, then its cards.

The outbox never guesses what a row is from its key or kind; incident_messages says so when
it enqueues. This checks what a real declaration, acknowledgement and escalation write.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from launchops.config import load_config
from launchops.delivery.outbox import PRIORITY_INCIDENT, PRIORITY_NORMAL, PRIORITY_PAGE
from launchops.messages.reply import Reply
from launchops.services.config_sync import sync_config
from launchops.services.incidents import Actor, IncidentService
from launchops.services.messaging import MessagingService
from launchops.store import session_scope
from launchops.store.models import OutboxMessage
from tests.conftest import fast_config


def _rows(engine: Engine) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def test_pages_are_queued_above_cards_and_cards_above_everything_else(
    engine: Engine, tmp_path: Path
) -> None:
    sync_config(engine, load_config(fast_config(tmp_path)), source="fast", actor="test")
    system = Actor.system_actor("test")
    incidents = IncidentService(engine, platforms=("slack",))
    declared = incidents.declare(
        level="p1", title="empty answers", component_query="retriever", actor=system
    )
    incidents.acknowledge(declared.incident.id, actor=system)  # an edit and a thread note
    MessagingService(engine).send(
        platform="slack", kind="post", destination={"channel": "C0X"}, reply=Reply(text="hi")
    )

    rows = _rows(engine)
    by_kind = {(row.kind, row.priority) for row in rows}
    assert {row.priority for row in rows if row.kind == "dm"} == {PRIORITY_PAGE}
    assert ("update", PRIORITY_INCIDENT) in by_kind
    cards = [r for r in rows if r.kind == "post" and r.destination.get("channel") != "C0X"]
    assert cards  # the channel card and the thread note
    assert {row.priority for row in cards} == {PRIORITY_INCIDENT}
    assert [r.priority for r in rows if r.destination.get("channel") == "C0X"] == [PRIORITY_NORMAL]
    assert PRIORITY_PAGE > PRIORITY_INCIDENT > PRIORITY_NORMAL
