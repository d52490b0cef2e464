"""Correctly signed Slack requests of shapes Slack rarely or never sends (issue 6, item 9).

Each one used to be able to answer 500 with a traceback in the log (bolt parses and indexes
the body unchecked; the listeners indexed payload fields). Now each gets a 4xx with a
one-line reason, or 200 when a listener can safely ignore it, a warning line without a
traceback, no state change, and the bot answers `/owner rag` afterwards.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.e2e.slack_ack import ack_answer
from tests.e2e.slack_odd import OddInputBot, assert_refused_cleanly, odd_input_bot
from tests.fakes.slack_requests import (
    FORM,
    JSON,
    app_mention_event,
    block_actions_body,
    event_callback_body,
    message_im_event,
    slash_command_body,
    view_submission_body,
)

pytestmark = pytest.mark.e2e

RESPONSE_URL = "http://127.0.0.1:9/response/odd"  # never called: nothing here is answered


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OddInputBot]:
    with odd_input_bot(tmp_path_factory) as running:
        yield running


def _payload(data: Any) -> bytes:
    return urlencode({"payload": data if isinstance(data, str) else json.dumps(data)}).encode()


def _click(**changes: Any) -> bytes:
    """A real button click's payload with some fields replaced (None: removed)."""
    body = block_actions_body("run_command", "who owns rag", "U0ALICE", "C0GENERAL", "1.2", "u")
    payload = json.loads(dict(_form(body))["payload"])
    return _payload(_changed(payload, changes))


def _submission(**view_changes: Any) -> bytes:
    body = view_submission_body("incident_form", {}, "U0ALICE")
    payload = json.loads(dict(_form(body))["payload"])
    payload["view"] = _changed(payload["view"], view_changes)
    return _payload(payload)


def _command(**changes: Any) -> bytes:
    body = slash_command_body("/owner", "rag", "U0ALICE", "C0GENERAL", RESPONSE_URL)
    return urlencode(_changed(dict(_form(body)), changes)).encode()


def _event(event: Any, **changes: Any) -> bytes:
    envelope = json.loads(event_callback_body({"type": "placeholder"}))
    envelope["event"] = event
    return json.dumps(_changed(envelope, changes)).encode()


def _form(body: bytes) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(body.decode(), keep_blank_values=True)


def _changed(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    result = dict(data)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


_MENTION = app_mention_event("U0BOB", "C0MLTEAM", "who owns rag")
_DEEP = "[" * 5000 + "]" * 5000

# (id, body, content type, expected status)
ODD_SHAPES: list[tuple[str, bytes, str | None, int]] = [
    ("payload-not-json", b"payload=%7Bnot+json", FORM, 400),
    ("payload-a-list", _payload([{"type": "block_actions"}]), FORM, 400),
    ("payload-a-string", _payload('"block_actions"'), FORM, 400),
    ("payload-nested-5000", _payload(_DEEP), FORM, 400),
    ("block-actions-without-user", _click(user=None), FORM, 400),
    ("block-actions-user-a-number", _click(user=42), FORM, 400),
    ("block-actions-no-actions", _click(actions=[]), FORM, 400),
    ("block-actions-actions-an-object", _click(actions={"action_id": "x"}), FORM, 400),
    ("view-submission-state-a-list", _submission(state=[]), FORM, 400),
    ("view-submission-state-values-odd", _submission(state={"values": {"t": 1}}), FORM, 400),
    ("view-submission-metadata-object", _submission(private_metadata={"a": 1}), FORM, 400),
    ("view-submission-without-callback", _submission(callback_id=None), FORM, 400),
    ("command-without-user-id", _command(user_id=None), FORM, 400),
    ("command-without-response-url", _command(response_url=None), FORM, 400),
    ("event-not-an-object", _event("app_mention"), JSON, 400),
    ("event-without-type", _event({"user": "U0BOB", "text": "hi"}), JSON, 400),
    ("event-text-a-number", _event(dict(_MENTION, text=7)), JSON, 400),
    ("mention-without-user", _event(_changed(_MENTION, {"user": None})), JSON, 200),
    ("dm-from-a-user-object", _event(message_im_event({"id": "U0BOB"}, "hi")), JSON, 200),  # type: ignore[arg-type]
    ("form-body-sent-as-json", _command(), JSON, 400),
    ("json-body-sent-as-form", _event(_MENTION), FORM, 400),
    ("json-nested-5000", f'{{"type": "event_callback", "event": {_DEEP}}}'.encode(), JSON, 400),
    ("body-not-utf8", b"payload=\xff\xfe", FORM, 400),
    ("no-content-type", _command(), None, 400),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [case[1:] for case in ODD_SHAPES],
    ids=[case[0] for case in ODD_SHAPES],
)
def test_odd_shapes_are_refused_cleanly_and_the_bot_keeps_answering(
    bot: OddInputBot,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str | None,
    status: int,
) -> None:
    before = bot.rows()
    with caplog.at_level(logging.INFO):
        response = bot.post(body, content_type)
    assert response.status_code == status, response.text
    assert_refused_cleanly(response, caplog.records)
    assert bot.rows() == before  # nothing stored, nothing queued, nothing audited
    bot.assert_still_answers()


def test_there_are_twenty_four_odd_shapes() -> None:
    assert len({case[0] for case in ODD_SHAPES}) == 24


def test_a_forged_odd_request_is_still_401(bot: OddInputBot) -> None:
    body = _payload(_DEEP)
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=0"}
    response = bot.client.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401


def test_a_command_that_mentions_payload_is_answered(bot: OddInputBot) -> None:
    """bolt's own parser mistakes any form body containing "payload" for interactivity."""
    bot.slack.clear()
    body = slash_command_body(
        "/launchops", "who owns payload", "U0ALICE", "C0GENERAL", bot.slack.response_url("p")
    )
    call = ack_answer(bot.post(body, FORM))
    assert "payload" in call.params["text"]  # the unknown-component answer names it
