"""`projects`, `failure` and `digest` typed in Slack and Teams, through the real endpoints.

`projects` lists the example organisation's projects with their days in stage and flags,
answered in the request itself (a question: nothing written). `failure rag: …` records one
case by the person who typed it and says what was stored; the raw database (the SQLite file
and its write-ahead log, byte for byte) holds no trace of the email address in it. `digest`
answers the asker's team digest privately.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from launchops.store.feedback_models import FailureCase
from launchops.store.models import OutboxMessage
from tests.e2e.harness import RunningApp, make_settings, running_app, slack_settings
from tests.e2e.slack_ack import ack_answer
from tests.e2e.test_slack_incidents_e2e import post_signed
from tests.e2e.test_teams_incidents_e2e import ALICE, message, post, reply_to, summary, texts
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_requests import slash_command_body
from tests.fakes.teams_connector import FakeBotConnector

pytestmark = pytest.mark.e2e

EMAIL = "kim@example.com"
FAILURE = f"failure rag: answers cite the wrong doc, mail me at {EMAIL}"


def database_bytes(path: Path) -> bytes:
    """The SQLite file and its write-ahead log, as a disk image would hold them."""
    return b"".join(
        p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )


def cases(app: RunningApp) -> list[FailureCase]:
    with Session(app.ctx.engine) as session:
        return list(session.exec(select(FailureCase)).all())


def outbox_count(app: RunningApp) -> int:
    with Session(app.ctx.engine) as session:
        return len(session.exec(select(OutboxMessage)).all())


# Slack ---------------------------------------------------------------------------------------
@pytest.fixture
def slack_app(tmp_path: Path, slack: FakeSlackAPI) -> Iterator[RunningApp]:
    url = f"sqlite:///{tmp_path / 'slack.db'}"
    with running_app(slack_settings(url, slack.url)) as running:
        yield running


def launchops(app: RunningApp, slack: FakeSlackAPI, text: str, user: str = "U0CAROL") -> str:
    body = slash_command_body("/launchops", text, user, "C0GENERAL", slack.response_url("fb"))
    response = post_signed(app, body)
    assert response.status_code == 200, response.text
    return html.unescape(json.dumps(ack_answer(response).params, ensure_ascii=False))


def test_projects_in_slack_lists_the_portfolio_in_the_ack(
    slack_app: RunningApp, slack: FakeSlackAPI
) -> None:
    before = outbox_count(slack_app)
    answer = launchops(slack_app, slack, "projects")
    assert "Projects (2)" in answer
    assert "Support assistant — Pilot" in answer and "Ticket summarizer — PoC" in answer
    assert "days (timebox" in answer
    assert "no sponsor" in answer  # the PoC has none
    assert "ephemeral" in answer  # only the asker sees it
    poc = launchops(slack_app, slack, "projects poc")
    assert "Ticket summarizer" in poc and "Support assistant" not in poc
    assert "Unknown stage 'pilott'" in launchops(slack_app, slack, "projects pilott")
    korean = launchops(slack_app, slack, "projects", user="U0MINJUN")
    assert "스폰서 없음" in korean or "스폰서" in korean
    assert outbox_count(slack_app) == before  # questions write nothing


def test_failure_in_slack_stores_a_masked_case(
    tmp_path: Path, slack_app: RunningApp, slack: FakeSlackAPI
) -> None:
    answer = launchops(slack_app, slack, FAILURE)
    assert "Recorded failure case #1 for retriever" in answer, answer
    assert "answers cite the wrong doc" in answer and EMAIL not in answer
    [case] = cases(slack_app)
    assert (case.component_id, case.person_id, case.source) == ("retriever", "carol", "chat")
    assert EMAIL not in case.summary
    slack_app.ctx.engine.dispose()  # let SQLite settle its pages into the file
    assert EMAIL.encode() not in database_bytes(tmp_path / "slack.db")
    # An unknown component is refused with a suggestion; nothing is stored.
    refused = launchops(slack_app, slack, "failure retreiver: wrong answers")
    assert "nothing was recorded" in refused and "retriever" in refused
    assert launchops(slack_app, slack, "failure rag:").count("nothing was recorded") == 1
    assert len(cases(slack_app)) == 1


def test_digest_in_slack_is_the_askers_team_privately(
    slack_app: RunningApp, slack: FakeSlackAPI
) -> None:
    answer = launchops(slack_app, slack, "digest")  # Carol is in the Data team
    assert "ephemeral" in answer and "Data" in answer
    nobody = launchops(slack_app, slack, "digest", user="U0NOBODY")
    assert "can't tell which team" in nobody


# Teams ---------------------------------------------------------------------------------------
@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        yield fake
        fake.assert_valid()


@pytest.fixture
def teams_app(tmp_path: Path, connector: FakeBotConnector) -> Iterator[RunningApp]:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'teams.db'}",
        LAUNCHOPS_TEAMS_SERVICE_URL=connector.url,
        LAUNCHOPS_TEAMS_ANONYMOUS="true",
        LAUNCHOPS_CHAT_PLATFORMS="teams",
    )
    with running_app(settings) as running:
        yield running


def say(app: RunningApp, connector: FakeBotConnector, text: str) -> str:
    activity = message(connector, text, user=ALICE)
    assert post(app, activity).status_code == 200
    reply = reply_to(connector, activity)
    return "\n".join(texts(card) for card in reply.cards) or summary(reply)


def test_projects_and_failure_in_teams(
    tmp_path: Path, teams_app: RunningApp, connector: FakeBotConnector
) -> None:
    answer = say(teams_app, connector, "projects")
    assert "Projects (2)" in answer and "Ticket summarizer — PoC" in answer
    assert "no sponsor" in answer and "days (timebox" in answer
    stored = say(teams_app, connector, FAILURE)
    assert "Recorded failure case #1 for retriever" in stored or "Failure case #1" in stored
    assert EMAIL not in stored
    [case] = cases(teams_app)
    assert case.person_id == "alice" and EMAIL not in case.summary
    teams_app.ctx.engine.dispose()
    assert EMAIL.encode() not in database_bytes(tmp_path / "teams.db")
