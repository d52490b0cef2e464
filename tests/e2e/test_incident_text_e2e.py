"""Declaring in one line of text, through the real Slack endpoint: the words before a colon are
a component only when they name one, a typo is asked about, and ` -- ` adds a description."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from launchops.store.models import Incident
from tests.e2e.harness import SLACK_SECRET, RunningApp, running_app, slack_settings
from tests.e2e.slack_ack import ack_answer
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_requests import sign, slash_command_body

pytestmark = pytest.mark.e2e

SECRET = SLACK_SECRET
FORM = "application/x-www-form-urlencoded"
ML_CHANNEL = "C0MLTEAM"  # the ML team's channel in config/catalog.yaml


@pytest.fixture
def app(sqlite_url: str, slack: FakeSlackAPI) -> Iterator[RunningApp]:
    with running_app(slack_settings(sqlite_url, slack.url)) as running:
        yield running


def declare(app: RunningApp, slack: FakeSlackAPI, text: str, channel: str) -> str:
    """`/incident <text>` by Alice in `channel`; the ephemeral answer as Slack shows it."""
    body = slash_command_body("/incident", text, "U0ALICE", channel, slack.response_url("d"))
    with app.client() as client:
        response = client.post(
            "/slack/events", content=body, headers=sign(SECRET, body, content_type=FORM)
        )
    return html.unescape(str(ack_answer(response).params["text"]))


def stored(app: RunningApp) -> list[Incident]:
    with Session(app.ctx.engine) as session:
        return list(session.exec(select(Incident)).all())


def test_a_colon_in_a_title_is_not_a_component(app: RunningApp, slack: FakeSlackAPI) -> None:
    answer = declare(app, slack, "p1 API returns 500: users blocked", ML_CHANNEL)
    [incident] = stored(app)
    assert incident.title == "API returns 500: users blocked"
    assert incident.component_id is None
    assert incident.team_id == "ml"  # declared in the ML team's channel
    assert "API returns 500: users blocked" in answer


def test_a_misspelt_component_is_asked_about_and_nothing_is_declared(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    answer = declare(app, slack, "p1 retreiver: slow", ML_CHANNEL)
    assert "Did you mean: Retriever?" in answer
    assert stored(app) == []


def test_a_known_component_before_the_colon_is_the_component(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    declare(app, slack, "p2 search index: slow answers -- since 9:00, every query", ML_CHANNEL)
    [incident] = stored(app)
    assert incident.component_id == "retriever"  # "search index" is one of its aliases
    assert incident.title == "slow answers"
    assert incident.description == "since 9:00, every query"


def test_a_long_title_is_told_how_to_give_a_description(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    answer = declare(app, slack, "p1 rag: " + "x" * 201, ML_CHANNEL)
    assert "at most 200 characters" in answer
    assert " -- <description>" in answer
    assert stored(app) == []
