"""SlackSender against the loopback Web API: where each kind of outbox row lands, and how an
incident's own channel is opened so that a retried row never opens a second one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from launchops.adapters.slack.sender import SlackSender
from launchops.delivery.sender import Delivery, PermanentFailure, RetryLater
from launchops.messages.reply import Card, Reply
from launchops.services.incident_messages import room_name
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall

CARD = Reply(text="INC-7 · P1 · Retriever: empty answers", card=Card(title="INC-7"))


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake
        fake.assert_valid()


@pytest.fixture
def sender(slack: FakeSlackAPI) -> SlackSender:
    return SlackSender(WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[]))


def _delivery(kind: str, destination: dict[str, Any], **extra: Any) -> Delivery:
    return Delivery(
        id=1,
        platform="slack",
        kind=kind,
        destination=destination,
        reply=CARD,
        attempt=1,
        extra=extra,
    )


def test_thread_post_goes_under_the_message_it_depends_on(
    sender: SlackSender, slack: FakeSlackAPI
) -> None:
    """Incident notes are `post` rows with {"thread": true}: channel and ts come from the
    card's own delivery result."""
    card = {"channel": "C0DATA", "ts": "1700000000.000100"}
    sender.send(_delivery("post", {"thread": True}, depends_on_result=card))
    [call] = slack.calls("chat.postMessage")
    assert (call.params["channel"], call.params["thread_ts"]) == ("C0DATA", "1700000000.000100")
    with pytest.raises(PermanentFailure):
        sender.send(_delivery("post", {"thread": True}, depends_on_result=None))


def test_channel_row_creates_invites_and_posts_the_card(
    sender: SlackSender, slack: FakeSlackAPI
) -> None:
    result = sender.send(
        _delivery("channel", {"name": "inc-7-empty-answers", "users": ["U0CHRIS", "U0ALICE"]})
    )
    [created] = slack.calls("conversations.create")
    [invite] = slack.calls("conversations.invite")
    [card] = slack.calls("chat.postMessage")
    assert created.params["name"] == "inc-7-empty-answers"
    room = invite.params["channel"]
    assert invite.params["users"] == "U0CHRIS,U0ALICE"
    assert card.params["channel"] == room and "blocks" in card.params
    assert result["channel"] == room and result["ts"]  # what updates and notes depend on


def test_a_retried_channel_row_reuses_the_channel_it_created(
    sender: SlackSender, slack: FakeSlackAPI
) -> None:
    """The first attempt created the channel and then failed: the retry finds it by name
    (conversations.list, second page) instead of giving up or making another."""
    slack.set_response("conversations.create", {"ok": False, "error": "name_taken"})
    pages = {
        "": {
            "ok": True,
            "channels": [{"id": "C0OTHER", "name": "general"}],
            "response_metadata": {"next_cursor": "page2"},
        },
        "page2": {
            "ok": True,
            "channels": [{"id": "C0ROOM", "name": "inc-7-x"}],
            "response_metadata": {"next_cursor": ""},
        },
    }

    def listing(call: RecordedCall) -> dict[str, Any]:
        return pages[str(call.params.get("cursor", ""))]

    slack.set_response("conversations.list", listing)
    result = sender.send(_delivery("channel", {"name": "inc-7-x", "users": []}))
    assert result["channel"] == "C0ROOM"
    assert slack.calls("conversations.invite") == []  # nobody to invite
    assert len(slack.calls("conversations.list")) == 2
    slack.set_response("conversations.list", {"ok": True, "channels": []})
    with pytest.raises(PermanentFailure, match="taken"):
        sender.send(_delivery("channel", {"name": "inc-7-x", "users": []}))


def test_people_who_cannot_be_invited_do_not_hold_the_card_back(
    sender: SlackSender, slack: FakeSlackAPI
) -> None:
    slack.set_response("conversations.invite", {"ok": False, "error": "already_in_channel"})
    sender.send(_delivery("channel", {"name": "inc-8", "users": ["U0CHRIS"]}))
    assert len(slack.calls("chat.postMessage")) == 1


def test_rate_limited_invite_retries_the_row(sender: SlackSender, slack: FakeSlackAPI) -> None:
    slack.fail_next("conversations.invite", 429, headers={"Retry-After": "7"}, times=1)
    with pytest.raises(RetryLater) as raised:
        sender.send(_delivery("channel", {"name": "inc-9", "users": ["U0CHRIS"]}))
    assert raised.value.after_seconds == 7.0
    assert slack.calls("chat.postMessage") == []


def test_invite_row_uses_the_channel_its_dependency_created(
    sender: SlackSender, slack: FakeSlackAPI
) -> None:
    room = {"channel": "C0ROOM", "ts": "1700000000.000200"}
    sender.send(_delivery("invite", {"users": ["U0CAROL"]}, depends_on_result=room))
    [invite] = slack.calls("conversations.invite")
    assert (invite.params["channel"], invite.params["users"]) == ("C0ROOM", "U0CAROL")
    with pytest.raises(PermanentFailure):
        sender.send(_delivery("invite", {"users": ["U0CAROL"]}, depends_on_result=None))


def test_room_names_are_valid_slack_channel_names() -> None:
    """Lowercase letters, digits and hyphens, at most 80 characters, never ending in `-`."""
    assert room_name("inc", 12, "Empty answers (EU)!") == "inc-12-empty-answers-eu"
    assert room_name("inc", 3, "검색 결과 없음") == "inc-3"  # nothing Slack-safe to keep
    long = room_name("incident", 7, "a b " * 100)
    assert len(long) <= 80 and not long.endswith("-")


def test_a_rate_limit_names_the_method_slack_refused(
    sender: SlackSender, slack: FakeSlackAPI
) -> None:
    """The dispatcher holds back every row that calls the method a 429 came from."""
    slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "12"}, times=1)
    with pytest.raises(RetryLater) as raised:
        sender.send(_delivery("dm", {"user": "U0ALICE"}))
    assert (raised.value.method, raised.value.after_seconds) == ("chat.postMessage", 12.0)
    assert len(slack.calls("conversations.open")) == 1  # the open worked; the post did not


def test_routes_name_the_conversation_and_the_methods_each_kind_calls(
    sender: SlackSender,
) -> None:
    """A DM is a conversation of its own (paced apart from every other); a card's edit and
    its thread notes land in the card's channel, one lane with the card."""
    card = {"channel": "C0DATA", "ts": "1700000000.000100"}
    dm = sender.route(_delivery("dm", {"user": "U0ALICE"}))
    post = sender.route(_delivery("post", {"channel": "C0DATA"}))
    edit = sender.route(_delivery("update", {}, depends_on_result=card))
    note = sender.route(_delivery("post", {"thread": True}, depends_on_result=card))
    room = sender.route(_delivery("channel", {"name": "inc-7", "users": []}))

    assert dm.conversation == "user:U0ALICE"
    assert dm.methods == ("conversations.open", "chat.postMessage")
    assert post.conversation == edit.conversation == note.conversation == "channel:C0DATA"
    assert (post.methods, edit.methods) == (("chat.postMessage",), ("chat.update",))
    assert room.methods == ("conversations.create", "conversations.invite", "chat.postMessage")
    assert set(sender.limits) == {"chat.postMessage"}
