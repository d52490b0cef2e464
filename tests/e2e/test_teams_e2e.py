"""Teams end to end: Bot Framework activities into the real app, replies to a fake Connector.

Each test starts the app as `launchops serve` would (real store, real dispatcher) in the
anonymous test mode (no app id, LAUNCHOPS_TEAMS_ANONYMOUS=true; tokens and tenants are
tested in test_teams_auth_e2e.py), POSTs activities to `/api/messages` in the wire JSON Teams
sends, and reads what the bot sent from the loopback Bot Connector named by the activities'
`serviceUrl`, which validates every Adaptive Card against the 1.5 schema.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from launchops.delivery.outbox import outbox_table
from tests.e2e.harness import RunningApp, make_settings, running_app
from tests.fakes.teams_connector import FakeBotConnector, RecordedActivity

pytestmark = pytest.mark.e2e

TENANT = "72f988bf-0000-4000-8000-2d7cd011db47"
BOT = {"id": "28:bot", "name": "LaunchOps"}
ALICE = {"id": "29:1alice", "name": "Alice Kim", "aadObjectId": "aad-alice"}
MINJUN = {"id": "29:1minjun", "name": "박민준", "aadObjectId": "aad-minjun"}
DATA_CHANNEL = "19:data@thread.tacv2"
_ids = itertools.count(1_700_000_000_000)


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        yield fake
        fake.assert_valid()


@pytest.fixture
def app(sqlite_url: str, connector: FakeBotConnector) -> Iterator[RunningApp]:
    settings = make_settings(
        sqlite_url, LAUNCHOPS_TEAMS_SERVICE_URL=connector.url, LAUNCHOPS_TEAMS_ANONYMOUS="true"
    )
    with running_app(settings) as running:
        yield running


def message(
    connector: FakeBotConnector,
    text: str | None,
    *,
    user: dict[str, str] = ALICE,
    channel: bool = False,
    mention: bool = True,
    value: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A `message` activity exactly as Teams posts it to the bot."""
    activity_id = str(next(_ids))
    if channel:
        conversation = {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{DATA_CHANNEL};messageid={activity_id}",
        }
        channel_data: dict[str, Any] = {
            "teamsChannelId": DATA_CHANNEL,
            "teamsTeamId": "19:team@thread.tacv2",
            "channel": {"id": DATA_CHANNEL},
            "team": {"id": "19:team@thread.tacv2"},
            "tenant": {"id": TENANT},
        }
    else:
        conversation = {
            "conversationType": "personal",
            "tenantId": TENANT,
            "id": f"a:1{user['id'][3:]}-personal",
        }
        channel_data = {"tenant": {"id": TENANT}}
    activity: dict[str, Any] = {
        "type": "message",
        "id": activity_id,
        "timestamp": "2025-03-03T09:00:00.1234567Z",
        "localTimestamp": "2025-03-03T18:00:00.1234567+09:00",
        "serviceUrl": connector.url,
        "channelId": "msteams",
        "from": dict(user),
        "conversation": conversation,
        "recipient": dict(BOT),
        "textFormat": "plain",
        "locale": "en-US",
        "channelData": channel_data,
    }
    if text is not None:
        activity["text"] = f"<at>LaunchOps</at> {text}" if mention else text
    if mention and text is not None:
        activity["entities"] = [
            {"type": "mention", "text": "<at>LaunchOps</at>", "mentioned": dict(BOT)},
            {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"},
        ]
    if value is not None:
        activity["value"] = value
    return activity


def post(app: RunningApp, body: Any, **kwargs: Any) -> httpx.Response:
    with app.client() as client:
        if isinstance(body, (bytes, str)):
            return client.post(
                "/api/messages", content=body, headers={"Content-Type": "application/json"}
            )
        return client.post("/api/messages", json=body, **kwargs)


def reply_to(connector: FakeBotConnector, activity: dict[str, Any]) -> RecordedActivity:
    """The bot's reply to `activity`, once the dispatcher has delivered it.

    An invoke (a card button) is answered as a reply to the message that carried the card.
    """
    target = activity.get("replyToId") if activity["type"] == "invoke" else activity["id"]
    [reply] = connector.wait_for(1, predicate=lambda r: r.activity_id == target)
    assert reply.route == "reply_to_activity"
    assert reply.conversation_id == activity["conversation"]["id"]
    return reply


def card_of(reply: RecordedActivity) -> dict[str, Any]:
    [card] = reply.cards
    return card


def facts(card: dict[str, Any]) -> dict[str, str]:
    return {
        fact["title"]: fact["value"]
        for block in card["body"]
        if block["type"] == "FactSet"
        for fact in block["facts"]
    }


def assert_retriever_raci(card: dict[str, Any]) -> None:
    assert card["body"][0]["text"] == "Retriever — who owns it"
    shown = facts(card)
    assert shown["Responsible"] == "Data team"
    assert shown["Accountable"] == "Carol Jones"
    assert shown["On call"] == "Chris Novak"
    assert shown["Runbook"].endswith("(https://wiki.example/runbooks/retriever)")


def test_mention_gets_the_retriever_raci_card(db_url: str, connector: FakeBotConnector) -> None:
    settings = make_settings(
        db_url, LAUNCHOPS_TEAMS_SERVICE_URL=connector.url, LAUNCHOPS_TEAMS_ANONYMOUS="true"
    )
    with running_app(settings) as app:
        activity = message(connector, "who owns rag")
        response = post(app, activity)
        assert response.status_code == 200, response.text
        reply = reply_to(connector, activity)
        assert_retriever_raci(card_of(reply))
        assert reply.activity["from"]["id"] == BOT["id"]
        assert reply.activity["recipient"]["id"] == ALICE["id"]
        assert reply.activity["summary"].startswith("Retriever: Responsible Data team")
        assert "authorization" not in reply.headers  # anonymous mode sends no token
        # the personal chat is remembered under both of Alice's ids, for pages later
        for key in (ALICE["id"], ALICE["aadObjectId"]):
            stored = app.ctx.messaging.conversation("teams", key)
            assert stored is not None
            assert stored["conversation"]["id"] == activity["conversation"]["id"]
            assert stored["serviceUrl"] == connector.url


def test_personal_chat_without_mention_is_answered(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    activity = message(connector, "who fixes the retriever?", mention=False)
    assert post(app, activity).status_code == 200
    assert_retriever_raci(card_of(reply_to(connector, activity)))


def test_channel_mention_is_answered_in_its_thread(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    activity = message(connector, "owner search index", channel=True)
    assert post(app, activity).status_code == 200
    reply = reply_to(connector, activity)
    assert reply.conversation_id == f"{DATA_CHANNEL};messageid={activity['id']}"
    assert_retriever_raci(card_of(reply))
    stored = app.ctx.messaging.conversation("teams", DATA_CHANNEL)
    assert stored is not None
    assert stored["conversation"]["id"] == DATA_CHANNEL
    assert app.ctx.messaging.conversation("teams", ALICE["id"]) is None  # not a personal chat


def test_unknown_component_suggests_with_execute_buttons_that_work(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    activity = message(connector, "who owns retreiver")
    assert post(app, activity).status_code == 200
    suggestion = reply_to(connector, activity)
    card = card_of(suggestion)
    assert "Did you mean" in json.dumps(card)
    buttons = card["actions"]
    assert buttons
    assert all(b["type"] == "Action.Execute" for b in buttons)
    button = next(b for b in buttons if b["data"]["value"] == "who owns retriever")
    assert button["verb"] == "run_command"

    # The user clicks it: Teams sends an adaptiveCard/action invoke carrying the button's data.
    invoke = {
        **message(connector, None),
        "type": "invoke",
        "name": "adaptiveCard/action",
        "replyToId": suggestion.response_id,  # the bot's message that carried the card
        "value": {
            "action": {"type": "Action.Execute", "verb": button["verb"], "data": button["data"]},
            "trigger": "manual",
        },
    }
    response = post(app, invoke)
    assert response.status_code == 200
    body = response.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert body["value"].startswith("Retriever: Responsible Data team")
    assert_retriever_raci(card_of(reply_to(connector, invoke)))


def test_action_submit_from_a_card_runs_the_command(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    activity = message(
        connector, None, value={"action": "run_command", "value": "who owns retriever"}
    )
    assert post(app, activity).status_code == 200
    assert_retriever_raci(card_of(reply_to(connector, activity)))


def test_unsupported_invoke_gets_an_error_body_not_a_crash(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    invoke = {
        **message(connector, None),
        "type": "invoke",
        "name": "adaptiveCard/action",
        "value": {"action": {"type": "Action.Execute", "verb": "self_destruct", "data": {}}},
    }
    response = post(app, invoke)
    assert response.status_code == 200
    assert response.json()["statusCode"] == 400
    other = {**message(connector, None), "type": "invoke", "name": "composeExtension/query"}
    refused = post(app, other)
    assert (refused.status_code, refused.json()) == (400, {"detail": "unsupported invoke"})


def test_redelivered_activity_is_answered_once(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    activity = message(connector, "who owns rag")
    assert post(app, activity).status_code == 200
    assert post(app, activity).status_code == 200  # Teams delivered it again
    with app.ctx.engine.connect() as connection:
        queued = connection.execute(
            select(func.count()).select_from(outbox_table).where(outbox_table.c.platform == "teams")
        ).scalar_one()
    assert queued == 0  # a question is answered in the turn, never through the outbox
    # A later message is answered, and the first one was answered only once.
    later = message(connector, "help")
    assert post(app, later).status_code == 200
    reply_to(connector, later)
    replies = [r for r in connector.activities() if r.activity_id == activity["id"]]
    assert len(replies) == 1


def test_huge_message_gets_a_short_error_reply(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    activity = message(connector, "who owns " + "x" * 5000)
    response = post(app, activity)
    assert response.status_code == 200
    reply = reply_to(connector, activity)
    assert not reply.cards
    assert "4000" in reply.text
    assert len(reply.text) < 200
    assert "Traceback" not in reply.text


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"type": "message", "text": ', "malformed JSON"),
        (b"\xff\xfe not even text", "malformed JSON"),
        (b'["type", "message"]', "not a Bot Framework activity"),
        (b'{"text": "who owns rag"}', "not a Bot Framework activity"),
        (b'{"type": "message", "timestamp": "yesterday"}', "not a Bot Framework activity"),
        (b'{"type": "message", "text": "hi"}', "activity lacks conversation.id or serviceUrl"),
    ],
)
def test_malformed_requests_are_400_with_a_short_detail(
    app: RunningApp, body: bytes, detail: str
) -> None:
    response = post(app, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)
    assert "Traceback" not in response.text
    assert len(response.text) < 200


def test_korean_user_gets_the_korean_answer(app: RunningApp, connector: FakeBotConnector) -> None:
    activity = message(connector, "검색기 담당자 누구야?", user=MINJUN)
    activity["locale"] = "ko-KR"
    assert post(app, activity).status_code == 200
    card = card_of(reply_to(connector, activity))
    assert card["body"][0]["text"] == "Retriever — 담당 정보"
    assert card["lang"] == "ko"
    shown = facts(card)
    assert shown["담당 \\(R\\)"] == "Data team"  # the label's parentheses are escaped
    assert shown["최종 책임 \\(A\\)"] == "Carol Jones"
    assert shown["당번"] == "Chris Novak"
    assert shown["런북"].endswith("(https://wiki.example/runbooks/retriever)")


def test_confidential_component_in_a_channel_has_no_runbook(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    activity = message(connector, "who owns guardrails", channel=True)
    assert post(app, activity).status_code == 200
    reply = reply_to(connector, activity)
    card = card_of(reply)
    assert card["body"][0]["text"] == "Guardrails — who owns it"
    assert "wiki.example/runbooks" not in json.dumps(reply.activity)
    assert "Runbook" not in facts(card)
    assert card["body"][-1]["text"].startswith("Confidential component")


def test_install_sends_one_welcome(app: RunningApp, connector: FakeBotConnector) -> None:
    base = message(connector, None)
    installed = {
        **base,
        "type": "conversationUpdate",
        "membersAdded": [dict(BOT)],
    }
    installed.pop("textFormat")
    response = post(app, installed)
    assert response.status_code == 200
    [welcome] = connector.wait_for(1)
    assert welcome.route == "send_to_conversation"
    assert welcome.conversation_id == base["conversation"]["id"]
    assert card_of(welcome)["body"][0]["text"] == "LaunchOps — what I can do"
    # Teams also sends installationUpdate on install: no second welcome.
    update = {**base, "id": str(next(_ids)), "type": "installationUpdate", "action": "add"}
    assert post(app, update).status_code == 200
    later = message(connector, "help")
    assert post(app, later).status_code == 200
    reply_to(connector, later)
    assert len([r for r in connector.activities() if r.route == "send_to_conversation"]) == 1


def test_proactive_post_to_a_channel_with_no_reference_starts_a_thread(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    from launchops.messages.reply import Card, Reply

    app.ctx.messaging.send(
        platform="teams",
        kind="post",
        destination={"conversation": "19:ml@thread.tacv2"},
        reply=Reply(text="P1 declared", card=Card(title="P1: answers are wrong")),
    )
    [created] = connector.wait_for(1, route="create_conversation")
    assert created.body["channelData"]["channel"]["id"] == "19:ml@thread.tacv2"
    assert card_of(created)["body"][0]["text"] == "P1: answers are wrong"


def test_rate_limited_reply_is_delivered_after_retry_after(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    connector.fail_next(429, headers={"Retry-After": "1"}, route="reply_to_activity")
    activity = message(connector, "who owns rag")
    assert post(app, activity).status_code == 200
    assert_retriever_raci(card_of(reply_to(connector, activity)))
    assert len(connector.failures) == 1
