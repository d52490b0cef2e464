"""The fakes are test equipment: these tests prove they catch what they claim to catch.

They drive the fakes with the real clients the app uses (slack_sdk's WebClient, slack_bolt,
botframework-connector's ConnectorClient), so a fake that drifts from the real wire format
fails here rather than in a confusing end-to-end test.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from botbuilder.core import BotFrameworkAdapter, BotFrameworkAdapterSettings, TurnContext
from botbuilder.schema import Activity, Attachment, ChannelAccount, ConversationParameters
from botframework.connector import ConnectorClient
from botframework.connector.aio import ConnectorClient as AsyncConnectorClient
from botframework.connector.auth import MicrosoftAppCredentials
from botframework.connector.models import ErrorResponseException
from jsonschema import Draft7Validator
from slack_bolt import Ack, App, BoltRequest, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from tests.fakes import specs_dir
from tests.fakes.cards import (
    ADAPTIVE_CARD_CONTENT_TYPE,
    assert_adaptive_card,
    validate_adaptive_card,
)
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_requests import (
    FORM,
    JSON,
    app_mention_event,
    block_actions_body,
    event_callback_body,
    message_im_event,
    sign,
    slash_command_body,
    url_verification_body,
)
from tests.fakes.teams_connector import FakeBotConnector, message_activity

SECRET = "test-signing-secret"
CHANNEL_THREAD = "19:abc@thread.tacv2"

BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "P1: Retriever down"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*Retriever* is down"},
        "fields": [{"type": "mrkdwn", "text": "*Severity*\nP1"}],
    },
    {
        "type": "actions",
        "block_id": "incident:1",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "action_id": "incident_ack",
                "value": "1",
                "style": "primary",
            }
        ],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "declared by <@U0ALICE>"}]},
]

CARD: dict[str, Any] = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "msteams": {"width": "Full"},
    "body": [
        {"type": "TextBlock", "text": "P1: Retriever down", "weight": "Bolder", "wrap": True},
        {"type": "FactSet", "facts": [{"title": "Severity", "value": "P1"}]},
    ],
    "actions": [
        {
            "type": "Action.Submit",
            "title": "Acknowledge",
            "data": {"action": "incident_ack", "incident": 1, "msteams": {"type": "messageBack"}},
        }
    ],
}


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlackAPI) -> WebClient:
    return WebClient(base_url=slack.url, token="xoxb-test")


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        yield fake


@pytest.fixture
def bf_client(connector: FakeBotConnector) -> Iterator[ConnectorClient]:
    # What BotFrameworkAdapter uses when the app id is empty (anonymous, local tests only).
    client = ConnectorClient(MicrosoftAppCredentials.empty(), base_url=connector.url)
    yield client
    client.close()


# FakeSlackAPI ----------------------------------------------------------------------------------


def test_slack_fake_listens_on_loopback_and_stops_its_threads() -> None:
    before = set(threading.enumerate())
    with FakeSlackAPI() as fake:
        assert fake.url == f"http://127.0.0.1:{fake.port}/api/"
        url = fake.url
        bearer = {"Authorization": "Bearer xoxb-test"}
        assert httpx.post(fake.url + "auth.test", headers=bearer).json()["user_id"] == "UBOT"
        assert httpx.post(fake.url + "auth.test").json()["error"] == "invalid_arguments"
    assert set(threading.enumerate()) <= before
    with pytest.raises(httpx.ConnectError):
        httpx.post(url + "auth.test", timeout=2)


def test_valid_post_message_is_recorded_and_passes(slack: FakeSlackAPI, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C0MLTEAM", text="P1: Retriever down", blocks=BLOCKS)
    second = client.chat_postMessage(channel="C0MLTEAM", text="again", thread_ts=first["ts"])

    assert first["ok"]
    assert first["channel"] == "C0MLTEAM"
    assert float(second["ts"]) > float(first["ts"])
    assert first["ts"] == "1700000000.000100"
    call = slack.wait_for("chat.postMessage", count=2)[0]
    assert call.params["channel"] == "C0MLTEAM"
    assert call.json_param("blocks") == BLOCKS
    assert call.token == "xoxb-test"
    slack.assert_valid()


def test_form_encoded_calls_are_understood(slack: FakeSlackAPI, client: WebClient) -> None:
    data = {"channel": "C1", "user": "U0ALICE", "text": "only you", "blocks": json.dumps(BLOCKS)}
    response = client.api_call("chat.postEphemeral", data=data)

    assert response["ok"]
    assert response["message_ts"]
    call = slack.calls("chat.postEphemeral")[0]
    assert call.params["user"] == "U0ALICE"
    assert call.json_param("blocks") == BLOCKS
    assert call.headers["content-type"].startswith(FORM)
    slack.assert_valid()


def test_canned_answers_look_like_slack(slack: FakeSlackAPI, client: WebClient) -> None:
    assert client.auth_test()["bot_id"] == "BBOT"
    assert client.conversations_open(users="U0ALICE")["channel"]["id"] == "DU0ALICE"
    created = client.conversations_create(name="inc-42-retriever")["channel"]
    assert created["name"] == "inc-42-retriever"
    assert client.conversations_invite(channel=created["id"], users="U0ALICE")["ok"]
    assert client.users_info(user="U0ALICE")["user"]["id"] == "U0ALICE"
    assert client.chat_update(channel="C1", ts="1.2", text="new")["text"] == "new"
    assert client.reactions_add(channel="C1", name="eyes", timestamp="1.2")["ok"]
    assert [c.method for c in slack.calls()][:2] == ["auth.test", "conversations.open"]
    slack.assert_valid()


def test_missing_required_argument_is_reported(slack: FakeSlackAPI, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.postMessage", json={"text": "where to?"})

    assert raised.value.response["error"] == "invalid_arguments"
    assert slack.problems == ["chat.postMessage: missing required argument 'channel'"]
    with pytest.raises(AssertionError, match="'channel'"):
        slack.assert_valid()


def test_unknown_method_is_reported(slack: FakeSlackAPI, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.postMesage", json={"channel": "C1", "text": "typo"})

    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == "unknown_method"
    assert slack.problems == ["chat.postMesage: not a Slack Web API method"]


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}, "3000"),
        ({"type": "sektion", "text": {"type": "mrkdwn", "text": "x"}}, "unknown block type"),
        ({"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "colour": "red"}, "colour"),
        ({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}, "150"),
    ],
)
def test_invalid_blocks_are_reported(
    slack: FakeSlackAPI, client: WebClient, block: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="fallback", blocks=[BLOCKS[0], block])

    assert raised.value.response["error"] == "invalid_blocks"
    assert len(slack.problems) == 1
    assert slack.problems[0].startswith("chat.postMessage blocks[1]")
    assert expected in slack.problems[0]


def test_view_blocks_are_round_tripped(slack: FakeSlackAPI, client: WebClient) -> None:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "incident_form",
        "title": {"type": "plain_text", "text": "Declare incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": {"type": "plain_text", "text": "Title"},
                "element": {"type": "plain_text_input", "action_id": "v", "max_length": 200},
            }
        ],
    }
    assert client.views_open(trigger_id="1.2.3", view=view)["view"]["id"].startswith("V")
    slack.assert_valid()

    broken = {**view, "blocks": [{**view["blocks"][0], "element": {"type": "text_input"}}]}
    with pytest.raises(SlackApiError):
        client.views_open(trigger_id="1.2.3", view=broken)
    assert any("views.open view.blocks[0]" in p for p in slack.problems), slack.problems


def test_message_without_any_content_is_reported(slack: FakeSlackAPI, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.postMessage", json={"channel": "C1"})
    assert raised.value.response["error"] == "no_text"
    assert slack.problems


def test_scripted_429_carries_retry_after(slack: FakeSlackAPI, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", times=1)

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="hi")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "1"
    assert raised.value.response["error"] == "ratelimited"
    assert slack.calls() == []
    assert [f.method for f in slack.failures] == ["chat.postMessage"]


def test_slack_sdk_retry_handler_honours_scripted_retry_after(slack: FakeSlackAPI) -> None:
    client = WebClient(
        base_url=slack.url,
        token="xoxb-test",
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    slack.fail_next("chat.postMessage", times=2)

    started = time.monotonic()
    assert client.chat_postMessage(channel="C1", text="eventually")["ok"]

    assert time.monotonic() - started >= 2  # waited Retry-After: 1 twice
    assert len(slack.failures) == 2
    assert len(slack.calls("chat.postMessage")) == 1


def test_scripted_500_then_success(slack: FakeSlackAPI, client: WebClient) -> None:
    slack.fail_next("chat.update", status=500, times=1)
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="C1", ts="1.2", text="x")
    assert raised.value.response.status_code == 500
    assert client.chat_update(channel="C1", ts="1.2", text="x")["ok"]
    assert client.chat_postMessage(channel="C1", text="other methods unaffected")["ok"]


def test_response_url_posts_are_recorded(slack: FakeSlackAPI) -> None:
    url = slack.response_url("abc")
    assert url == f"http://127.0.0.1:{slack.port}/response/abc"

    answer = httpx.post(url, json={"response_type": "ephemeral", "text": "Usage: /incident"})

    assert answer.status_code == 200
    (call,) = slack.wait_for("response_url")
    assert call.params == {"response_type": "ephemeral", "text": "Usage: /incident"}
    slack.assert_valid()
    httpx.post(url, json={"response_type": "whisper", "text": "x"})
    assert any("whisper" in p for p in slack.problems)


def test_wait_for_blocks_until_the_call_arrives(slack: FakeSlackAPI, client: WebClient) -> None:
    timer = threading.Timer(0.3, lambda: client.chat_postMessage(channel="C1", text="late"))
    timer.start()
    try:
        (call,) = slack.wait_for("chat.postMessage", timeout=5)
    finally:
        timer.join()
    assert call.params["text"] == "late"


def test_wait_for_timeout_lists_what_arrived(slack: FakeSlackAPI, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="hello")
    with pytest.raises(AssertionError, match=r"(?s)chat\.update.*chat\.postMessage.*hello"):
        slack.wait_for("chat.update", timeout=0.2)
    with pytest.raises(AssertionError):
        slack.wait_for(
            "chat.postMessage", timeout=0.2, predicate=lambda c: c.params["channel"] == "C2"
        )


# Adaptive Cards --------------------------------------------------------------------------------


def test_valid_card_with_teams_extension_passes() -> None:
    assert validate_adaptive_card(CARD) == []
    assert_adaptive_card(CARD)


def test_only_the_msteams_key_is_set_aside() -> None:
    problems = validate_adaptive_card({**CARD, "teams": {"width": "Full"}})
    assert problems == ["(card): Additional properties are not allowed ('teams' was unexpected)"]


def test_unknown_element_type_is_rejected() -> None:
    card = {**CARD, "body": [{"type": "TextBlok", "text": "typo"}]}
    assert validate_adaptive_card(card) == ["body/0: unknown type 'TextBlok' here"]
    with pytest.raises(AssertionError, match="TextBlok"):
        assert_adaptive_card(card)


def test_missing_required_property_is_rejected() -> None:
    card = {**CARD, "body": [{"type": "Container", "items": [{"type": "TextBlock"}]}]}
    assert validate_adaptive_card(card) == ["body/0/items/0: 'text' is a required property"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"version": "1.6"}, "newer than 1.5"),
        ({"version": None}, "version"),
        ({"type": "HeroCard"}, "AdaptiveCard"),
    ],
)
def test_card_header_is_checked(change: dict[str, Any], expected: str) -> None:
    problems = validate_adaptive_card({**CARD, **change})
    assert any(expected in p for p in problems), problems


def test_card_schema_comes_from_the_shared_specs() -> None:
    assert (specs_dir() / "adaptive-card-1.5.0.schema.json").is_file()


# FakeBotConnector ------------------------------------------------------------------------------


def _card_activity(text: str = "P1: Retriever down", card: dict[str, Any] = CARD) -> Activity:
    attachment = Attachment(content_type=ADAPTIVE_CARD_CONTENT_TYPE, content=card)
    return Activity(type="message", text=text, attachments=[attachment])


def test_reply_from_the_real_connector_client_is_recorded(
    connector: FakeBotConnector, bf_client: ConnectorClient
) -> None:
    conversation = f"{CHANNEL_THREAD};messageid=1700000000123"

    sent = bf_client.conversations.reply_to_activity(conversation, "1:xyz", _card_activity())

    (record,) = connector.wait_for()
    assert record.route == "reply_to_activity"
    assert record.conversation_id == conversation
    assert record.activity_id == "1:xyz"
    assert record.response_id == sent.id
    assert record.text == "P1: Retriever down"
    assert record.cards == [CARD]
    assert "authorization" not in record.headers  # empty app id: anonymous
    connector.assert_valid()


def test_send_update_delete_and_members(
    connector: FakeBotConnector, bf_client: ConnectorClient
) -> None:
    conversations = bf_client.conversations
    sent = conversations.send_to_conversation("a:1xyz/odd", Activity(type="message", text="v1"))
    updated = conversations.update_activity(
        "a:1xyz/odd", sent.id, Activity(type="message", id=sent.id, text="v2")
    )
    conversations.delete_activity("a:1xyz/odd", sent.id)
    connector.add_member("29:1alice", name="Alice Kim")
    alice = conversations.get_conversation_member("a:1xyz/odd", "29:1alice")

    assert updated.id == sent.id
    assert alice.name == "Alice Kim"
    assert [r.route for r in connector.calls()] == [
        "send_to_conversation",
        "update_activity",
        "delete_activity",
        "get_conversation_member",
    ]
    assert {r.conversation_id for r in connector.calls()} == {"a:1xyz/odd"}
    assert connector.calls("get_conversation_member")[0].activity == {}
    assert [r.text for r in connector.activities()] == ["v1", "v2"]
    with pytest.raises(ErrorResponseException):
        conversations.get_conversation_member("a:1xyz/odd", "29:1nobody")


def test_create_conversation_answers_a_new_id(
    connector: FakeBotConnector, bf_client: ConnectorClient
) -> None:
    parameters = ConversationParameters(
        is_group=True,
        bot=ChannelAccount(id="28:bot-test"),
        channel_data={"channel": {"id": CHANNEL_THREAD}},
        activity=_card_activity(),
    )

    created = bf_client.conversations.create_conversation(parameters)

    assert created.id.startswith("a:conv-")
    (record,) = connector.wait_for(route="create_conversation")
    assert record.conversation_id == created.id
    assert record.response_id == created.activity_id
    assert record.body["channelData"] == {"channel": {"id": CHANNEL_THREAD}}
    assert record.cards == [CARD]


def test_async_connector_client_reaches_the_fake(connector: FakeBotConnector) -> None:
    # botbuilder's adapters use the aiohttp-based client; its routes must match too.
    async def send() -> str:
        credentials = MicrosoftAppCredentials.empty()
        async with AsyncConnectorClient(credentials, base_url=connector.url) as client:
            activity = Activity(type="message", text="async")
            response = await client.conversations.send_to_conversation(CHANNEL_THREAD, activity)
            return str(response.id)

    new_id = asyncio.run(send())

    (record,) = connector.wait_for(predicate=lambda r: r.text == "async")
    assert (record.conversation_id, record.response_id) == (CHANNEL_THREAD, new_id)


def test_bot_framework_adapter_replies_land_in_the_fake(connector: FakeBotConnector) -> None:
    """The path the bot takes: an incoming activity whose serviceUrl is the fake, no app id."""
    conversation = f"{CHANNEL_THREAD};messageid=1700000000123"
    incoming = message_activity(
        connector.url, "who owns rag", conversation_id=conversation, conversation_type="channel"
    )

    async def turn() -> None:
        adapter = BotFrameworkAdapter(BotFrameworkAdapterSettings("", ""))

        async def logic(context: TurnContext) -> None:
            sent = await context.send_activity("Retriever: data team")
            assert sent is not None
            await context.update_activity(Activity(type="message", id=sent.id, text="edited"))

        await adapter.process_activity(Activity().deserialize(incoming), "", logic)
        for client in adapter._connector_client_cache.values():  # botbuilder never closes them
            await client.__aexit__(None, None, None)

    asyncio.run(turn())

    reply, update = connector.wait_for(count=2)
    assert (reply.route, reply.activity_id) == ("reply_to_activity", incoming["id"])
    assert reply.conversation_id == conversation
    assert reply.activity["replyToId"] == incoming["id"]
    assert (update.route, update.activity_id, update.text) == (
        "update_activity",
        reply.response_id,
        "edited",
    )
    assert "authorization" not in reply.headers
    connector.assert_valid()


def test_invalid_card_in_an_activity_is_reported(
    connector: FakeBotConnector, bf_client: ConnectorClient
) -> None:
    bad = {**CARD, "body": [{"type": "TextBlock"}]}
    bf_client.conversations.send_to_conversation(CHANNEL_THREAD, _card_activity(card=bad))

    assert connector.problems == [
        f"send_to_conversation {CHANNEL_THREAD} attachments[0]: body/0: "
        "'text' is a required property"
    ]
    with pytest.raises(AssertionError, match="required property"):
        connector.assert_valid()


def test_scripted_connector_failure(
    connector: FakeBotConnector, bf_client: ConnectorClient
) -> None:
    connector.fail_next(status=429, times=1)

    with pytest.raises(ErrorResponseException) as raised:
        bf_client.conversations.send_to_conversation(CHANNEL_THREAD, _card_activity())

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "1"
    assert len(connector.failures) == 1
    assert connector.calls() == []
    bf_client.conversations.send_to_conversation(CHANNEL_THREAD, _card_activity())
    assert len(connector.wait_for()) == 1


def test_connector_reports_unknown_routes_and_times_out_readably(
    connector: FakeBotConnector,
) -> None:
    assert httpx.post(connector.url + "v3/bogus", json={}).status_code == 404
    assert connector.problems == ["not a Bot Connector route: POST /v3/bogus"]
    with pytest.raises(AssertionError, match=r"waited 0\.2s for 1 x activity, got 0"):
        connector.wait_for(timeout=0.2)


def test_message_activity_is_wire_json(connector: FakeBotConnector) -> None:
    activity = Activity().deserialize(message_activity(connector.url, "who owns rag"))
    assert activity.service_url == connector.url
    assert activity.channel_data["tenant"]["id"] == "tenant-test"
    assert activity.conversation.conversation_type == "personal"
    assert activity.from_property.aad_object_id


# Signed Slack requests -------------------------------------------------------------------------


def test_signature_verifies_and_tampering_does_not() -> None:
    body = slash_command_body("/incident", "p1 rag: down", "U0ALICE", "C1", "http://x/r")
    headers = sign(SECRET, body, content_type=FORM)
    verifier = SignatureVerifier(SECRET)

    assert headers["Content-Type"] == FORM
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + b"x", headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    stale = sign(SECRET, body, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)


def test_slash_command_has_every_field() -> None:
    body = slash_command_body("/incident", "p1 rag: down", "U0ALICE", "C1", "http://x/r")
    fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}

    assert set(fields) >= {
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id",
        "user_name", "command", "text", "api_app_id", "response_url", "trigger_id",
    }  # fmt: skip
    assert (fields["command"], fields["text"]) == ("/incident", "p1 rag: down")


def test_event_envelope_matches_the_events_api_spec() -> None:
    spec = json.loads((specs_dir() / "slack_events_api_async_v1.json").read_text())
    validator = Draft7Validator(spec["components"]["schemas"]["GenericEventWrapper"])
    for event in (
        app_mention_event("U0ALICE", "C1", "who owns rag"),
        message_im_event("U0ALICE", "help"),
    ):
        envelope = json.loads(event_callback_body(event, event_id="Ev1"))
        assert list(validator.iter_errors(envelope)) == []
        assert envelope["event_id"] == "Ev1"
    assert app_mention_event("U1", "C1", "hi")["text"] == "<@UBOT> hi"
    assert message_im_event("U1", "hi")["channel"] == "DU1"


def test_bolt_accepts_the_signed_requests(slack: FakeSlackAPI, client: WebClient) -> None:
    """slack_bolt, which the app is built on, parses and verifies every builder's output."""
    app = App(signing_secret=SECRET, client=client, process_before_response=True)
    seen: list[str] = []

    @app.command("/incident")
    def on_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        seen.append(f"command {command['text']}")
        respond(text="Declared", response_type="in_channel")

    @app.action("incident_ack")
    def on_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        seen.append(f"action {body['actions'][0]['value']} by {body['user']['id']}")

    @app.event("app_mention")
    def on_mention(event: dict[str, Any]) -> None:
        seen.append(f"mention {event['text']}")

    def post(body: bytes, content_type: str, secret: str = SECRET) -> BoltResponse:
        headers: dict[str, str | Sequence[str]] = {**sign(secret, body, content_type=content_type)}
        return app.dispatch(BoltRequest(body=body.decode(), headers=headers))

    response_url = slack.response_url("cmd1")
    command = slash_command_body("/incident", "p1 rag: down", "U0ALICE", "C1", response_url)
    action = block_actions_body("incident_ack", "42", "U0BOB", "C1", "1.2", response_url)
    mention = event_callback_body(app_mention_event("U0ALICE", "C1", "help"))

    assert post(command, FORM).status == 200
    assert post(action, FORM).status == 200
    assert post(mention, JSON).status == 200
    assert post(command, FORM, secret="forged").status == 401
    challenge = post(url_verification_body("c-1"), JSON)
    assert json.loads(challenge.body) == {"challenge": "c-1"}

    assert seen == ["command p1 rag: down", "action 42 by U0BOB", "mention <@UBOT> help"]
    (reply,) = slack.wait_for("response_url")
    assert reply.params["text"] == "Declared"
    slack.assert_valid()
