"""The guard in front of bolt: signature before parsing, then only shapes Slack sends."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from launchops.adapters.slack.guard import (
    MAX_DEPTH,
    Accepted,
    Refusal,
    RequestGuard,
    shape_problem,
    too_deep,
)
from tests.fakes.slack_requests import (
    FORM,
    JSON,
    app_mention_event,
    block_actions_body,
    event_callback_body,
    sign,
    slash_command_body,
    url_verification_body,
    view_submission_body,
)

SECRET = "guard-secret"
GUARD = RequestGuard(SECRET)


def check(body: bytes, content_type: str = FORM, **headers: str) -> Accepted | Refusal:
    signed = {k.lower(): v for k, v in sign(SECRET, body, content_type=content_type).items()}
    signed.update({k.replace("_", "-").lower(): v for k, v in headers.items()})
    return GUARD.check(body, signed)


def refused(verdict: Accepted | Refusal, status: int = 400) -> str:
    assert isinstance(verdict, Refusal), verdict
    assert verdict.status == status
    assert "\n" not in verdict.reason and "Traceback" not in verdict.reason
    return verdict.reason


def payload(data: Any) -> bytes:
    return urlencode({"payload": json.dumps(data)}).encode()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (slash_command_body("/owner", "rag", "U1", "C1", "https://r.example/1"), FORM),
        (event_callback_body(app_mention_event("U1", "C1", "who owns rag")), JSON),
        (block_actions_body("run_command", "help", "U1", "C1", "1.2", "https://r/1"), FORM),
        (view_submission_body("incident_form", {}, "U1"), FORM),
        (url_verification_body("abc"), JSON),
    ],
    ids=["command", "event", "click", "submission", "url_verification"],
)
def test_what_slack_sends_is_accepted_as_bolt_would_read_it(body: bytes, content_type: str) -> None:
    verdict = check(body, content_type)
    assert isinstance(verdict, Accepted), verdict
    assert verdict.text == body.decode()
    assert verdict.body  # parsed, not empty


def test_a_command_mentioning_payload_keeps_its_fields() -> None:
    # bolt's own parser sees the word "payload" and returns {} for this body.
    body = slash_command_body("/owner", "payload api", "U1", "C1", "https://r.example/1")
    verdict = check(body)
    assert isinstance(verdict, Accepted)
    assert verdict.body["text"] == "payload api" and verdict.body["user_id"] == "U1"


def test_the_signature_is_checked_before_anything_is_parsed() -> None:
    body = b'payload={"type":' + b"[" * 10_000
    headers = {k.lower(): v for k, v in sign("not-the-secret", body, content_type=FORM).items()}
    assert refused(GUARD.check(body, headers), 401) == "invalid request signature"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-slack-request-timestamp": "soon"},
        {"x-slack-signature": "v0=é"},
        {"x-slack-request-timestamp": str(int(time.time()) - 600)},
        {"x-slack-signature": ""},
    ],
    ids=["timestamp-not-a-number", "non-ascii-signature", "stale", "no-signature"],
)
def test_broken_signature_headers_are_401_not_an_exception(headers: dict[str, str]) -> None:
    body = slash_command_body("/owner", "rag", "U1", "C1", "https://r.example/1")
    signed = {k.lower(): v for k, v in sign(SECRET, body, content_type=FORM).items()}
    signed.update(headers)
    refused(GUARD.check(body, signed), 401)


def test_an_unsigned_ssl_check_still_reaches_bolt() -> None:
    body = b"ssl_check=1&token=legacy"
    assert isinstance(GUARD.check(body, {"content-type": FORM}), Accepted)


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"\xff\xfe", FORM, "not UTF-8"),
        (b"", FORM, "empty"),
        (b"a=b", "text/plain", "content type"),
        (b"payload=not-json", FORM, "payload is not valid JSON"),
        (payload([1, 2]), FORM, "payload is not a JSON object"),
        (b"token=x&command=%2Fowner", JSON, "not valid JSON"),
        (b'{"type": "event_callback"}', FORM, "JSON body sent with a form"),
        (b"[" * 5000 + b"]" * 5000, JSON, "deeper than"),
        (payload({"a": [[[[[[[[[[]]]]]]]]]]} | {"b": "x"}), FORM, None),
    ],
    ids=[
        "not-utf8",
        "empty",
        "text-plain",
        "payload-not-json",
        "payload-list",
        "form-as-json",
        "json-as-form",
        "deep-json",
        "moderate-depth-ok",
    ],
)
def test_envelopes_slack_never_sends(body: bytes, content_type: str, reason: str | None) -> None:
    verdict = check(body, content_type)
    if reason is None:
        assert isinstance(verdict, Accepted)
    else:
        assert reason in refused(verdict)


def test_depth_ignores_brackets_inside_strings() -> None:
    text = json.dumps({"text": "[" * 1000, "nested": [[["}"]]]})
    assert not too_deep(text)
    assert too_deep("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert not too_deep("[" * MAX_DEPTH + "]" * MAX_DEPTH)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"type": "event_callback", "event": "hello", "event_id": "Ev1"},
            "`event` is not an object",
        ),
        ({"type": "event_callback", "event": {}, "event_id": "Ev1"}, "without a `type`"),
        ({"type": "event_callback", "event": {"type": "x"}}, "without an `event_id`"),
        ({"type": "event_callback", "event": {"type": "m", "text": 1}, "event_id": "E"}, "text"),
        ({"type": "block_actions", "actions": [{"action_id": "a"}]}, "without a `user`"),
        ({"type": "block_actions", "user": {"id": "U1"}, "actions": []}, "without `actions`"),
        ({"type": "block_actions", "user": {"id": "U1"}, "actions": ["x"]}, "list of objects"),
        ({"type": "block_actions", "user": {"id": 5}, "actions": [{}]}, "string `id`"),
        ({"type": "view_submission", "user": "U1", "view": []}, "`view` is not an object"),
        ({"type": "view_submission", "user": "U1", "view": {"type": "modal"}}, "callback_id"),
        (
            {
                "type": "view_submission",
                "user": "U1",
                "view": {"type": "modal", "callback_id": "f", "state": {"values": {"b": 1}}},
            },
            "view.state.values",
        ),
        ({"type": "block_suggestion", "user": "U1"}, "action_id"),
        ({"type": "url_verification"}, "challenge"),
        ({"command": "/owner", "response_url": "https://r/1"}, "user_id"),
        ({"command": "owner", "user_id": "U1", "response_url": "https://r/1"}, "start with /"),
        ({"type": 7}, "`type` is not a string"),
        ({"command": "/owner", "user_id": "U1", "response_url": "file:///etc"}, "HTTP(S)"),
        ({"authorizations": [None]}, "list of objects"),
    ],
)
def test_shapes_bolt_or_a_listener_would_trip_on(body: dict[str, Any], reason: str) -> None:
    problem = shape_problem(body)
    assert problem is not None and reason in problem


def test_unknown_types_and_extra_fields_pass_for_bolt_to_decide() -> None:
    assert shape_problem({"type": "shortcut", "callback_id": "x", "new_field": [1, {}]}) is None
    assert (
        shape_problem({"type": "event_callback", "event": {"type": "x"}, "event_id": "E"}) is None
    )
