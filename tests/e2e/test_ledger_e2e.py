"""The issue's "Done when" line: an incident on a component with a recorded deployment shows
it with a working Roll back button, on Slack and on Teams.

A pipeline posts the deployment to `POST /api/v1/deployments` with a `rollback_url`; then
someone declares a P1 on the component through the real endpoints. On Slack (signed
requests to /slack/events, Web API on the loopback fake that checks every call against the
spec and round-trips Block Kit) the channel card and the page carry a `url` button called
Roll back whose click is acknowledged; on Teams (/api/messages, the loopback Bot Connector
validating every card against the Adaptive Card 1.5 schema) the card has an Action.OpenUrl.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import RunningApp
from tests.e2e.slack_ack import ack_answer
from tests.e2e.test_slack_incidents_e2e import (
    LONG_DEADLINE,
    buttons,
    dm,
    drained,
    incident_command,
    post_signed,
    start,
    to,
)
from tests.e2e.test_teams_incidents_e2e import (
    _app as teams_app,
)
from tests.e2e.test_teams_incidents_e2e import (
    card_of,
    channel_card,
    message,
    post,
    reply_to,
)
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_requests import block_actions_body
from tests.fakes.teams_connector import FakeBotConnector

pytestmark = pytest.mark.e2e

TOKEN = {"Authorization": "Bearer test-api-token"}
ROLLBACK = "https://ci.example.com/pipelines/ranker/rollback?to=v1.4.1"
LINE = "Retriever v1.4.2 to production 40 min ago by Judy Park"


def record_deployment(app: RunningApp) -> int:
    deployed = datetime.now(UTC) - timedelta(minutes=40, seconds=20)
    with app.client() as client:
        answer = client.post(
            "/api/v1/deployments",
            headers=TOKEN,
            json={
                "component": "rag",
                "version": "v1.4.2",
                "deployed_at": deployed.isoformat(),
                "rollback_url": ROLLBACK,
                "actor": "judy",
                "external_id": "pipeline-run-77",
            },
        )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


# Slack ------------------------------------------------------------------------------------
@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake
        fake.assert_valid()


@pytest.fixture
def slack_app(db_url: str, slack: FakeSlackAPI, tmp_path: Path) -> Iterator[RunningApp]:
    with start(db_url, slack, tmp_path, LONG_DEADLINE) as running:
        yield running


def _text_of(call: Any) -> str:
    return "\n".join(
        field["text"]
        for block in call.json_param("blocks") or []
        for field in block.get("fields", [])
    )


def test_slack_incident_card_shows_the_deployment_with_a_working_roll_back_button(
    slack_app: RunningApp, slack: FakeSlackAPI
) -> None:
    record_deployment(slack_app)
    acked = incident_command(slack_app, slack, "p1 retriever: empty answers")
    confirmation = ack_answer(acked)
    assert "Roll back" in [b["text"]["text"] for b in buttons(confirmation).values()]

    [card] = slack.wait_for("chat.postMessage", predicate=to("C0DATA"))
    [page] = slack.wait_for("chat.postMessage", predicate=to(dm("U0CHRIS")))
    for message_ in (card, page):
        assert LINE in _text_of(message_)
        rollback = buttons(message_)["Roll back"]
        assert rollback["url"] == ROLLBACK
        assert list(buttons(message_))[:4] == [
            "Acknowledge",
            "Escalate",
            "Resolve",
            "Change severity",
        ]

    # Slack opens the URL itself and still tells the app: the click is acknowledged, and
    # nothing is run or posted because of it.
    rollback = buttons(card)["Roll back"]
    before = len(slack.calls())
    body = block_actions_body(
        rollback["action_id"],
        rollback["value"],
        "U0CHRIS",
        "C0DATA",
        "1700000000.000100",
        slack.response_url("rollback"),
        button_text="Roll back",
    )
    clicked = post_signed(slack_app, body)
    assert clicked.status_code == 200, clicked.text
    drained(slack_app)
    assert [c.method for c in slack.calls()[before:]] == []

    # `incident status` lists the change in the hour before; an acknowledged card keeps it.
    status = ack_answer(incident_command(slack_app, slack, "status 1", key="status"))
    assert "Changes in the hour before" in _text_of(status)
    assert "Retriever v1.4.2 to production 40 min before by Judy Park" in _text_of(status)
    incident_command(slack_app, slack, "ack 1", user="U0CHRIS", key="ack")
    [edited] = slack.wait_for(
        "chat.update", predicate=lambda c: c.params.get("channel") == "C0DATA"
    )
    assert buttons(edited)["Roll back"]["url"] == ROLLBACK


# Teams ------------------------------------------------------------------------------------
@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        yield fake
        fake.assert_valid()


@pytest.fixture
def teams(sqlite_url: str, tmp_path: Path, connector: FakeBotConnector) -> Iterator[RunningApp]:
    with teams_app(sqlite_url, tmp_path, connector, 3600) as running:
        yield running


def test_teams_incident_card_shows_the_deployment_with_a_roll_back_open_url(
    teams: RunningApp, connector: FakeBotConnector
) -> None:
    record_deployment(teams)
    declare = message(connector, "incident p1 retriever: empty answers")
    response = post(teams, declare)
    assert response.status_code in (200, 201), response.text
    reply_to(connector, declare)
    card = card_of(channel_card(connector, 1))
    facts = [f for block in card["body"] if block["type"] == "FactSet" for f in block["facts"]]
    assert any(f["value"] == LINE for f in facts)
    [open_url] = [a for a in card["actions"] if a["type"] == "Action.OpenUrl"]
    assert open_url == {"type": "Action.OpenUrl", "title": "Roll back", "url": ROLLBACK}
    titles = [a["title"] for a in card["actions"]]
    assert titles == ["Acknowledge", "Escalate", "Resolve", "Change severity", "Roll back"]
