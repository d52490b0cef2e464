"""Listeners never index a payload field unchecked: in Socket Mode no HTTP guard stands in
front of them, so a payload missing its user, channel or response_url is refused or ignored
with a warning, and nothing runs as nobody."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from launchops.adapters.slack.forms import IncidentForms
from launchops.adapters.slack.handlers import SlackHandlers
from launchops.adapters.slack.modals import FormContext, Prefill, read_form
from launchops.messages.i18n import t


class Untouchable:
    """Stands in for the chat core, the outbox and the Web API: none may be reached."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} must not be reached for an incomplete payload")


class Ack:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


NOBODY: Any = Untouchable()
HANDLERS = SlackHandlers(chat=NOBODY, forms=NOBODY, after_ack=NOBODY, locale="ko")
FORMS = IncidentForms(chat=NOBODY, ownership=NOBODY, client=NOBODY, after_ack=NOBODY)


@pytest.mark.parametrize(
    "command",
    [
        {"command": "/owner", "text": "rag", "response_url": "https://hooks.slack.com/x"},
        {"command": "/owner", "text": "rag", "user_id": "U1"},
        {"command": "/owner", "text": "rag", "user_id": 5, "response_url": ["x"]},
    ],
    ids=["no-user", "no-response-url", "wrong-types"],
)
def test_an_incomplete_command_gets_a_short_refusal_in_the_ack(command: dict[str, Any]) -> None:
    ack = Ack()
    HANDLERS.on_slash_command(ack, command, {})  # type: ignore[arg-type]
    assert ack.calls == [{"text": t("slack.unreadable_request", "ko")}]


@pytest.mark.parametrize(
    "event",
    [
        {"type": "app_mention", "text": "who owns rag", "channel": "C1"},
        {"type": "app_mention", "text": "who owns rag", "user": {"id": "U1"}, "channel": "C1"},
        {"type": "app_mention", "user": "U1", "channel": ["C1"]},
    ],
    ids=["no-user", "user-object", "channel-list"],
)
def test_a_mention_without_an_author_is_ignored_with_a_warning(
    event: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        HANDLERS.on_mention({"event_id": "Ev1"}, event, {})
        im = dict(event, type="message", channel_type="im")
        HANDLERS.on_message({"event_id": "Ev2"}, im, {})
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 2
    assert all(r.exc_info is None for r in caplog.records)


@pytest.mark.parametrize(
    "body", [{}, {"user": "U1"}, {"user": {"id": None}}], ids=["none", "string", "null-id"]
)
def test_a_click_without_a_user_is_acknowledged_and_runs_nothing(body: dict[str, Any]) -> None:
    ack = Ack()
    HANDLERS.on_run_command(ack, body, {"value": "incident ack 1"}, {})  # type: ignore[arg-type]
    assert ack.calls == [{}]
    ack = Ack()
    FORMS.on_open_button(ack, body, {"value": "{}"}, {})  # type: ignore[arg-type]
    assert ack.calls == [{}]


def test_a_submission_without_a_user_is_refused_beside_the_title() -> None:
    ack = Ack()
    view = {"private_metadata": '{"locale": "ko"}', "state": {"values": []}}
    FORMS.on_submit(ack, {"type": "view_submission"}, view, {})  # type: ignore[arg-type]
    [call] = ack.calls
    assert call["response_action"] == "errors"
    assert call["errors"] == {"title": t("slack.unreadable_request", "ko")}


@pytest.mark.parametrize(
    "view",
    [
        {"state": []},
        {"state": {"values": []}},
        {"state": {"values": {"severity": "p1"}}},
        {"state": {"values": {"severity": {"incident_severity": ["p1"]}}}},
        {"state": {"values": {"title": {"incident_title": {"value": 7}}}}},
    ],
)
def test_odd_form_state_reads_as_empty_fields(view: dict[str, Any]) -> None:
    values = read_form(view)
    assert (values.level, values.component, values.title, values.description) == (
        None,
        None,
        "",
        None,
    )


@pytest.mark.parametrize("text", [7, None, "[" * 5000, "x" * 4000, "[1]", "{"])
def test_odd_metadata_and_button_values_read_as_defaults(text: Any) -> None:
    assert FormContext.from_metadata(text) == FormContext()
    assert Prefill.from_value(text if isinstance(text, str) else None) == (Prefill(), "en")
