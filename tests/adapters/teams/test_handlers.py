"""The pure parts of the Teams turn logic: mention stripping, button commands, references."""

from __future__ import annotations

from typing import Any

import pytest
from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from launchops.adapters.teams.handlers import (
    command_text,
    conversation_reference,
    reference_keys,
    strip_bot_mention,
)


def _activity(text: str | None = "", **overrides: Any) -> Activity:
    wire: dict[str, Any] = {
        "type": "message",
        "id": "1700000000001",
        "serviceUrl": "https://smba.example/teams/",
        "channelId": "msteams",
        "from": {"id": "29:1alice", "name": "Alice Kim", "aadObjectId": "aad-alice"},
        "conversation": {"id": "a:1alice", "conversationType": "personal", "tenantId": "t1"},
        "recipient": {"id": "28:bot", "name": "LaunchOps"},
        "text": text,
        "entities": [
            {
                "type": "mention",
                "text": "<at>LaunchOps</at>",
                "mentioned": {"id": "28:bot", "name": "LaunchOps"},
            }
        ],
        "channelData": {"tenant": {"id": "t1"}},
    }
    wire.update(overrides)
    return Activity().deserialize(wire)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<at>LaunchOps</at> who owns rag", "who owns rag"),
        ("who owns rag <at>LaunchOps</at>\n", "who owns rag"),
        ("who owns rag", "who owns rag"),
        # the bot's name elsewhere in the text stays (botbuilder's helper removes it too)
        ("<at>LaunchOps</at> owns LaunchOps", "owns LaunchOps"),
        ("<at>LaunchOps</at>", ""),
    ],
)
def test_strip_bot_mention(text: str, expected: str) -> None:
    assert strip_bot_mention(_activity(text)) == expected


def test_other_mentions_become_names() -> None:
    activity = _activity(
        "<at>LaunchOps</at> owns <at>Carol Jones</at>",
        entities=[
            {"type": "mention", "text": "<at>LaunchOps</at>", "mentioned": {"id": "28:bot"}},
            {"type": "mention", "text": "<at>Carol Jones</at>", "mentioned": {"id": "29:1carol"}},
        ],
    )
    assert strip_bot_mention(activity) == "owns Carol Jones"


def test_mention_entity_without_mentioned_does_not_crash() -> None:
    activity = _activity("<at>LaunchOps</at> help", entities=[{"type": "mention"}])
    assert strip_bot_mention(activity) == "LaunchOps help"
    with pytest.raises((KeyError, TypeError)):  # what botbuilder's own helper does here
        TurnContext.remove_recipient_mention(_activity("x", entities=[{"type": "mention"}]))


def test_card_submit_value_is_the_command() -> None:
    submitted = _activity(None, value={"action": "run_command", "value": "who owns retriever"})
    assert command_text(submitted) == "who owns retriever"
    assert command_text(_activity(None, value={"action": "something_else"})) is None
    assert command_text(_activity("<at>LaunchOps</at> help")) == "help"


def test_personal_chat_is_remembered_by_conversation_and_both_user_ids() -> None:
    pairs = reference_keys(_activity("hi"))
    assert [key for key, _ in pairs] == ["a:1alice", "29:1alice", "aad-alice"]
    reference = pairs[0][1]
    assert reference["serviceUrl"] == "https://smba.example/teams/"
    assert reference["conversation"]["tenantId"] == "t1"  # Teams' spelling, not tenantID
    assert reference["user"]["aadObjectId"] == "aad-alice"
    assert "activityId" not in reference  # stable across messages: no rewrite each time


def test_channel_post_is_remembered_by_thread_and_channel_not_user() -> None:
    activity = _activity(
        "hi",
        conversation={
            "id": "19:data@thread.tacv2;messageid=1700000000000",
            "conversationType": "channel",
            "isGroup": True,
        },
        channelData={"tenant": {"id": "t1"}, "channel": {"id": "19:data@thread.tacv2"}},
    )
    pairs = dict(reference_keys(activity))
    assert set(pairs) == {"19:data@thread.tacv2;messageid=1700000000000", "19:data@thread.tacv2"}
    channel = pairs["19:data@thread.tacv2"]
    assert channel["conversation"]["id"] == "19:data@thread.tacv2"
    assert channel["conversation"]["conversationType"] == "channel"
    assert "user" not in channel
    # the tenant comes from channelData when the conversation does not carry it
    assert conversation_reference(activity)["conversation"]["tenantId"] == "t1"


def test_activity_without_conversation_is_not_remembered() -> None:
    assert reference_keys(_activity("hi", conversation=None)) == []
