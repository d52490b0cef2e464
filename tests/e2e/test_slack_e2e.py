"""Slack end to end: signed requests into the real app, Web API calls to a loopback fake.

Each test starts the app as `launchops serve` would (real store, real dispatcher), signs its
requests with the signing secret exactly as Slack does, and reads what the bot sent from the
fake Web API, which also checks every call against Slack's OpenAPI spec and round-trips every
Block Kit payload through slack_sdk.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.harness import RunningApp, make_settings, running_app
from tests.e2e.slack_ack import ack_answer
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall
from tests.fakes.slack_requests import (
    app_mention_event,
    block_actions_body,
    event_callback_body,
    message_im_event,
    retry_headers,
    sign,
    slash_command_body,
    url_verification_body,
)

pytestmark = pytest.mark.e2e

SECRET = "test-signing-secret"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake
        fake.assert_valid()


def _start(db: str, slack: FakeSlackAPI) -> Any:
    return running_app(
        make_settings(
            db,
            SLACK_BOT_TOKEN="xoxb-test-token",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.url,
        )
    )


@pytest.fixture
def app(sqlite_url: str, slack: FakeSlackAPI) -> Iterator[RunningApp]:
    with _start(sqlite_url, slack) as running:
        yield running


def post_signed(
    app: RunningApp,
    body: bytes,
    content_type: str,
    *,
    timestamp: int | None = None,
    extra: dict[str, str] | None = None,
    secret: str = SECRET,
) -> httpx.Response:
    headers = sign(secret, body, timestamp, content_type=content_type)
    headers.update(extra or {})
    with app.client() as client:
        return client.post("/slack/events", content=body, headers=headers)


def slash(
    app: RunningApp,
    slack: FakeSlackAPI,
    command: str,
    text: str,
    *,
    user: str = "U0ALICE",
    key: str = "r1",
    trigger_id: str | None = None,
) -> httpx.Response:
    body = slash_command_body(
        command, text, user, "C0GENERAL", slack.response_url(key), trigger_id=trigger_id
    )
    return post_signed(app, body, FORM)


def blocks_text(call: RecordedCall) -> str:
    """Every piece of text in the message's blocks, for content assertions."""
    return json.dumps(call.json_param("blocks") or [], ensure_ascii=False)


def test_slash_owner_answers_with_the_raci(app: RunningApp, slack: FakeSlackAPI) -> None:
    call = ack_answer(slash(app, slack, "/owner", "rag"))
    assert call.params["response_type"] == "ephemeral"
    text = blocks_text(call)
    for expected in (
        "Retriever",
        "Data team",
        "Carol Jones",
        "Chris Novak",
        "ML team",
        "Product team",
        "Customer support",
        "<https://wiki.example/runbooks/retriever|",
    ):
        assert expected in text, expected
    assert "Retriever" in call.params["text"]


def test_launchops_command_and_natural_question(app: RunningApp, slack: FakeSlackAPI) -> None:
    call = ack_answer(slash(app, slack, "/launchops", "who owns the search index?"))
    assert "Carol Jones" in blocks_text(call)


def test_mention_answers_in_the_thread(app: RunningApp, slack: FakeSlackAPI) -> None:
    event = app_mention_event("U0BOB", "C0MLTEAM", "<@UBOT> who fixes the inference gateway?")
    response = post_signed(app, event_callback_body(event), "application/json")
    assert response.status_code == 200
    [call] = slack.wait_for("chat.postMessage")
    assert call.params["channel"] == "C0MLTEAM"
    assert call.params["thread_ts"] == event["ts"]
    text = blocks_text(call)
    assert "Platform team" in text and "Henry Ford" in text and "Ivy Chen" in text
    assert call.token == "xoxb-test-token"


def test_direct_message_in_korean_for_a_korean_speaker(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    event = message_im_event("U0MINJUN", "검색기 담당자 누구야?")
    post_signed(app, event_callback_body(event), "application/json")
    [call] = slack.wait_for("chat.postMessage")
    text = blocks_text(call)
    assert "담당 (R)" in text and "Data team" in text and "당번" in text


def test_retried_event_is_answered_once(app: RunningApp, slack: FakeSlackAPI) -> None:
    event = app_mention_event("U0BOB", "C0MLTEAM", "who owns rag")
    body = event_callback_body(event, event_id="EvSAME0001")
    for attempt in range(3):
        extra = retry_headers(attempt) if attempt else None
        assert post_signed(app, body, "application/json", extra=extra).status_code == 200
    slack.wait_for("chat.postMessage")
    assert app.ctx.dispatcher.drain(timeout=5)
    assert len(slack.calls("chat.postMessage")) == 1


def test_same_slash_command_delivered_twice_is_answered_in_each_ack_and_nowhere_else(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    """Each delivery's HTTP response is its answer (Slack shows the one it waits for); a
    question queues nothing, so a redelivery cannot make a second message appear."""
    answers = [
        ack_answer(slash(app, slack, "/owner", "rag", trigger_id="1234.5678.same"))
        for _ in range(2)
    ]
    assert answers[0].params == answers[1].params
    assert app.ctx.dispatcher.drain(timeout=5)
    assert slack.calls("response_url") == []


@pytest.mark.parametrize("case", ["bad signature", "stale timestamp", "unsigned"])
def test_forged_or_replayed_requests_get_401(
    app: RunningApp, slack: FakeSlackAPI, case: str
) -> None:
    body = slash_command_body("/owner", "rag", "U0ALICE", "C0GENERAL", slack.response_url("x"))
    with app.client() as client:
        if case == "bad signature":
            response = client.post(
                "/slack/events", content=body, headers=sign("wrong-secret", body, content_type=FORM)
            )
        elif case == "stale timestamp":
            old = int(time.time()) - 6 * 60
            response = client.post(
                "/slack/events", content=body, headers=sign(SECRET, body, old, content_type=FORM)
            )
        else:
            response = client.post("/slack/events", content=body, headers={"Content-Type": FORM})
    assert response.status_code == 401
    time.sleep(0.3)
    assert slack.calls() == [] or all(c.method == "auth.test" for c in slack.calls())


def test_url_verification_handshake(app: RunningApp) -> None:
    response = post_signed(app, url_verification_body("c-123"), "application/json")
    assert response.status_code == 200
    assert "c-123" in response.text


def test_unknown_component_suggests_and_the_button_answers(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    call = ack_answer(slash(app, slack, "/owner", "retreiver", key="first"))
    assert "Did you mean: Retriever?" in call.params["text"]
    buttons = [
        e for b in call.json_param("blocks") if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons and buttons[0]["value"] == "who owns retriever"
    click = block_actions_body(
        buttons[0]["action_id"],
        buttons[0]["value"],
        "U0ALICE",
        "C0GENERAL",
        "1700000000.000100",
        slack.response_url("second"),
    )
    assert post_signed(app, click, FORM).status_code == 200
    [answer] = slack.wait_for("response_url")  # a click's answer: Slack ignores its ack body
    assert answer.params["response_type"] == "ephemeral"
    assert "Carol Jones" in blocks_text(answer)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Which component?"),
        ("x" * 5000, "at most 4000"),
        ("  ???  ", "Which component?"),
    ],
)
def test_bad_input_gets_a_short_specific_reply(
    app: RunningApp, slack: FakeSlackAPI, text: str, expected: str
) -> None:
    call = ack_answer(slash(app, slack, "/owner", text))
    assert expected in call.params["text"]
    assert len(call.params["text"]) < 300
    assert "Traceback" not in json.dumps(call.params)


def test_markup_injection_is_escaped(app: RunningApp, slack: FakeSlackAPI) -> None:
    call = ack_answer(slash(app, slack, "/owner", "<!channel> @here <https://evil.example|click>"))
    sent = json.dumps(call.params)
    assert "<!channel>" not in sent and "<https://evil" not in sent
    assert "&lt;!channel&gt;" in call.params["text"]
    assert "link_names" not in call.params and "parse" not in call.params


def test_confidential_component_in_a_channel_hides_the_runbook(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    event = app_mention_event("U0DAN", "C0LEGAL", "who owns guardrails")
    post_signed(app, event_callback_body(event), "application/json")
    [call] = slack.wait_for("chat.postMessage")
    text = blocks_text(call)
    assert "Legal & compliance" in text.replace("&amp;", "&")
    assert "runbooks/guardrails" not in text and "Confidential" in text


def test_slack_answers_on_postgresql_too(db_url: str, slack: FakeSlackAPI) -> None:
    with _start(db_url, slack) as app:
        call = ack_answer(slash(app, slack, "/owner", "vector store"))
        assert "Indexing pipeline" in blocks_text(call)
