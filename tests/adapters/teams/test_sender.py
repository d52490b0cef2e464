"""TeamsSender against the loopback Bot Connector: where each kind of delivery lands, and how
Connector failures map onto the outbox's RetryLater / PermanentFailure."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from launchops.adapters.teams.sender import TeamsSender, make_credentials
from launchops.delivery.sender import Delivery, PermanentFailure, RetryLater
from launchops.messages.reply import Card, Reply
from launchops.services.messaging import MessagingService
from launchops.store import make_engine
from tests.e2e.harness import make_settings
from tests.fakes.teams_connector import FakeBotConnector

REPLY = Reply(text="Retriever: Responsible Data team", card=Card(title="Retriever"))
PERSONAL_REF = {
    "user": {"id": "29:1alice", "name": "Alice Kim", "aadObjectId": "aad-alice"},
    "bot": {"id": "28:bot", "name": "LaunchOps"},
    "conversation": {"id": "a:1alice", "conversationType": "personal", "tenantId": "t1"},
    "channelId": "msteams",
}


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
    settings = make_settings(
        sqlite_url, LAUNCHOPS_TEAMS_SERVICE_URL=fake.url, MicrosoftAppTenantId="t1"
    )
    return TeamsSender(settings, messaging)


def _delivery(kind: str, destination: dict[str, Any], **extra: Any) -> Delivery:
    return Delivery(
        id=1,
        platform="teams",
        kind=kind,
        destination=destination,
        reply=REPLY,
        attempt=1,
        extra=extra,
    )


def test_respond_replies_to_the_activity_anonymously(
    sender: TeamsSender, fake: FakeBotConnector, messaging: MessagingService
) -> None:
    messaging.remember_conversation("teams", "a:1alice", {**PERSONAL_REF, "serviceUrl": fake.url})
    destination = {"conversation": "a:1alice", "reply_to_id": "1700", "service_url": fake.url}
    result = sender.send(_delivery("respond", destination))
    [call] = fake.calls()
    assert (call.route, call.conversation_id, call.activity_id) == (
        "reply_to_activity",
        "a:1alice",
        "1700",
    )
    assert "authorization" not in call.headers  # an empty app id sends no token
    assert call.activity["from"]["id"] == "28:bot"
    assert call.activity["recipient"]["id"] == "29:1alice"
    assert call.activity["replyToId"] == "1700"
    assert len(call.cards) == 1
    assert result == {
        "activity_id": call.response_id,
        "conversation": "a:1alice",
        "service_url": fake.url,
    }


def test_post_to_a_channel_without_a_reference_starts_a_thread(
    sender: TeamsSender, fake: FakeBotConnector
) -> None:
    result = sender.send(_delivery("post", {"conversation": "19:ml@thread.tacv2"}))
    [call] = fake.calls()
    assert call.route == "create_conversation"
    assert call.body["isGroup"] is True
    assert call.body["channelData"] == {
        "channel": {"id": "19:ml@thread.tacv2"},
        "tenant": {"id": "t1"},
    }
    assert call.activity["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert result["conversation"] == call.conversation_id
    assert result["activity_id"] == call.response_id


def test_post_to_an_unknown_user_opens_and_remembers_a_personal_chat(
    sender: TeamsSender, fake: FakeBotConnector, messaging: MessagingService
) -> None:
    sender.send(_delivery("post", {"conversation": "29:1bob"}))
    created, sent = fake.calls()
    assert created.route == "create_conversation"
    assert created.body["members"] == [{"id": "29:1bob"}]
    assert created.body["isGroup"] is False
    assert created.body["channelData"] == {"tenant": {"id": "t1"}}
    assert (sent.route, sent.conversation_id) == ("send_to_conversation", created.conversation_id)
    stored = messaging.conversation("teams", "29:1bob")
    assert stored is not None
    assert stored["conversation"]["id"] == created.conversation_id

    sender.send(_delivery("post", {"conversation": "29:1bob"}))  # known now: no new chat
    assert [c.route for c in fake.calls()][2:] == ["send_to_conversation"]


def test_post_by_user_key_uses_the_stored_personal_chat(
    sender: TeamsSender, fake: FakeBotConnector, messaging: MessagingService
) -> None:
    messaging.remember_conversation("teams", "aad-alice", {**PERSONAL_REF, "serviceUrl": fake.url})
    sender.send(_delivery("post", {"conversation": "aad-alice"}))
    [call] = fake.calls()
    assert (call.route, call.conversation_id) == ("send_to_conversation", "a:1alice")


def test_update_edits_the_activity_its_post_returned(
    sender: TeamsSender, fake: FakeBotConnector
) -> None:
    posted = {"activity_id": "1700000000999", "conversation": "a:1alice", "service_url": fake.url}
    result = sender.send(_delivery("update", {}, depends_on_result=posted))
    [call] = fake.calls()
    assert (call.route, call.conversation_id, call.activity_id) == (
        "update_activity",
        "a:1alice",
        "1700000000999",
    )
    assert call.activity["id"] == "1700000000999"
    assert result["activity_id"] == "1700000000999"


def test_update_without_an_activity_id_is_permanent(sender: TeamsSender) -> None:
    with pytest.raises(PermanentFailure):
        sender.send(_delivery("update", {"conversation": "a:1alice"}))


@pytest.mark.parametrize(
    ("status", "headers", "expected", "after"),
    [
        (429, {"Retry-After": "7"}, RetryLater, 7.0),
        (429, {}, RetryLater, None),
        (500, {}, RetryLater, None),
        (503, {"Retry-After": "2"}, RetryLater, 2.0),
        (400, {}, PermanentFailure, None),
        (401, {}, PermanentFailure, None),
        (403, {}, PermanentFailure, None),
        (404, {}, PermanentFailure, None),
    ],
)
def test_connector_failures_map_to_retry_or_permanent(
    sender: TeamsSender,
    fake: FakeBotConnector,
    status: int,
    headers: dict[str, str],
    expected: type[Exception],
    after: float | None,
) -> None:
    fake.fail_next(status, headers=headers)
    destination = {"conversation": "a:1alice", "reply_to_id": "1", "service_url": fake.url}
    with pytest.raises(expected) as caught:
        sender.send(_delivery("respond", destination))
    assert str(status) in str(caught.value)
    if isinstance(caught.value, RetryLater):
        assert caught.value.after_seconds == after
    assert len(fake.failures) == 1  # one attempt: the outbox, not the client, retries


def test_unreachable_connector_is_retried_later(sender: TeamsSender) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    destination = {
        "conversation": "a:1alice",
        "reply_to_id": "1",
        "service_url": f"http://127.0.0.1:{port}/",
    }
    with pytest.raises(RetryLater, match="network error"):
        sender.send(_delivery("respond", destination))


def test_unknown_kind_is_permanent(sender: TeamsSender) -> None:
    with pytest.raises(PermanentFailure, match="unknown delivery kind"):
        sender.send(_delivery("telepathy", {"conversation": "a:1alice"}))


def test_credentials_follow_botbuilder_conventions(sqlite_url: str) -> None:
    anonymous = make_credentials(make_settings(sqlite_url))
    assert not anonymous.microsoft_app_id
    session = anonymous.signed_session()
    assert "Authorization" not in session.headers  # botbuilder's anonymous mode: no token
    session.close()

    multi = make_credentials(
        make_settings(sqlite_url, MicrosoftAppId="app-1", MicrosoftAppPassword="pw")
    )
    assert multi.microsoft_app_id == "app-1"
    assert multi.tenant == "botframework.com"
    single = make_credentials(
        make_settings(
            sqlite_url,
            MicrosoftAppId="app-1",
            MicrosoftAppPassword="pw",
            MicrosoftAppType="SingleTenant",
            MicrosoftAppTenantId="contoso-tenant",
        )
    )
    assert single.tenant == "contoso-tenant"


def test_an_update_is_not_retried_inside_the_client(
    sender: TeamsSender, fake: FakeBotConnector
) -> None:
    # urllib3 would retry a PUT on 503 by itself; the outbox must see the failure instead.
    fake.fail_next(503, times=3, route="update_activity")
    posted = {"activity_id": "17", "conversation": "a:1alice", "service_url": fake.url}
    with pytest.raises(RetryLater):
        sender.send(_delivery("update", {}, depends_on_result=posted))
    assert len(fake.failures) == 1
    assert fake.calls() == []


@pytest.mark.parametrize("where", ["stored", "destination"])
def test_without_an_app_id_a_foreign_service_url_is_never_called(
    sender: TeamsSender, fake: FakeBotConnector, messaging: MessagingService, where: str
) -> None:
    """A reference stored before serviceUrls were checked must not aim the bot elsewhere."""
    evil = "https://evil.example/"
    messaging.remember_conversation(
        "teams", "a:1alice", {**PERSONAL_REF, "serviceUrl": evil if where == "stored" else fake.url}
    )
    destination: dict[str, Any] = {"conversation": "a:1alice", "reply_to_id": "1700"}
    if where == "destination":
        destination["service_url"] = evil
    with pytest.raises(PermanentFailure, match="serviceUrl not allowed"):
        sender.send(_delivery("respond", destination))
    assert fake.calls() == []
