"""How the incident service's outbox rows land in Teams: the channel card starts a thread,
its notes go into that thread, its edits hit the card, pages reach people with or without a
stored conversation, and a private follow-up goes to the person's own chat.

The rows are chained the way IncidentService writes them (a note or an edit `depends_on` the
card's post and reads the post's result), with the thread id in the shape Teams really
returns for a channel post, `19:…@thread.tacv2;messageid=…`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from launchops.adapters.teams.sender import TeamsSender
from launchops.delivery.sender import Delivery
from launchops.messages.reply import Card, Reply
from launchops.services.messaging import MessagingService
from launchops.store import make_engine
from tests.e2e.harness import make_settings
from tests.fakes.teams_connector import FakeBotConnector

CARD = Reply(text="INC-1 · P1", card=Card(title="INC-1 · P1 · Retriever: empty answers"))
NOTE = Reply(text="Acknowledged by Chris Novak.")
CHANNEL = "19:data@thread.tacv2"
THREAD = f"{CHANNEL};messageid=1700000000123"


@pytest.fixture
def fake() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as connector:
        yield connector
        connector.assert_valid()


@pytest.fixture
def messaging(sqlite_url: str) -> Iterator[MessagingService]:
    engine = make_engine(sqlite_url)
    yield MessagingService(engine)
    engine.dispose()


@pytest.fixture
def sender(sqlite_url: str, fake: FakeBotConnector, messaging: MessagingService) -> TeamsSender:
    settings = make_settings(sqlite_url, LAUNCHOPS_TEAMS_SERVICE_URL=fake.url)
    return TeamsSender(settings, messaging)


def _delivery(
    kind: str, destination: dict[str, Any], reply: Reply = CARD, **extra: Any
) -> Delivery:
    return Delivery(
        id=1,
        platform="teams",
        kind=kind,
        destination=destination,
        reply=reply,
        attempt=1,
        extra=extra,
    )


def test_notes_and_edits_follow_the_channel_post_they_depend_on(
    sender: TeamsSender, fake: FakeBotConnector
) -> None:
    posted = sender.send(_delivery("post", {"conversation": CHANNEL}))
    sender.send(_delivery("respond", {"thread": True}, NOTE, depends_on_result=posted))
    sender.send(_delivery("update", {}, depends_on_result=posted))
    created, note, edit = fake.calls()
    assert created.route == "create_conversation"
    assert (note.route, note.conversation_id) == ("send_to_conversation", posted["conversation"])
    assert note.text == "Acknowledged by Chris Novak."
    assert (edit.route, edit.conversation_id, edit.activity_id) == (
        "update_activity",
        posted["conversation"],
        created.response_id,
    )


def test_a_note_goes_into_the_teams_thread_not_a_new_one(
    sender: TeamsSender, fake: FakeBotConnector, messaging: MessagingService
) -> None:
    """Even with the channel itself remembered (a post there starts a thread), a note for a
    thread id stays in that thread."""
    messaging.remember_conversation(
        "teams",
        CHANNEL,
        {
            "conversation": {"id": CHANNEL, "conversationType": "channel"},
            "serviceUrl": fake.url,
            "channelId": "msteams",
        },
    )
    posted = {"activity_id": "1700000000123", "conversation": THREAD, "service_url": fake.url}
    sender.send(_delivery("respond", {"thread": True}, NOTE, depends_on_result=posted))
    sender.send(_delivery("update", {}, depends_on_result=posted))
    note, edit = fake.calls()
    assert (note.route, note.conversation_id) == ("send_to_conversation", THREAD)
    assert (edit.route, edit.conversation_id, edit.activity_id) == (
        "update_activity",
        THREAD,
        "1700000000123",
    )


def test_a_page_opens_a_personal_chat_at_the_configured_service_url_once(
    sender: TeamsSender, fake: FakeBotConnector, messaging: MessagingService
) -> None:
    first = sender.send(_delivery("post", {"conversation": "29:1chris"}))
    created, page = fake.calls()
    assert created.body["members"] == [{"id": "29:1chris"}]
    assert page.conversation_id == created.conversation_id == first["conversation"]
    sender.send(_delivery("update", {}, depends_on_result=first))
    sender.send(_delivery("post", {"conversation": "29:1chris"}))  # the next page
    assert [(c.route, c.conversation_id) for c in fake.calls()[2:]] == [
        ("update_activity", created.conversation_id),
        ("send_to_conversation", created.conversation_id),
    ]


def test_a_private_follow_up_goes_to_the_persons_own_chat(
    sender: TeamsSender, fake: FakeBotConnector, messaging: MessagingService
) -> None:
    messaging.remember_conversation(
        "teams",
        "29:1carol",
        {
            "user": {"id": "29:1carol"},
            "conversation": {"id": "a:1carol", "conversationType": "personal"},
            "serviceUrl": fake.url,
            "channelId": "msteams",
        },
    )
    sender.send(_delivery("ephemeral", {"user": "29:1carol", "service_url": fake.url}))
    [call] = fake.calls()
    assert (call.route, call.conversation_id) == ("send_to_conversation", "a:1carol")
    assert call.activity["recipient"]["id"] == "29:1carol"
