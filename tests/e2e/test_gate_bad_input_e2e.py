"""Bad gate input in text through the real Slack endpoint: each gets its own specific answer,
and nothing in the store changes (requests, decisions, outbox, audit log, stages counted
before and after)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.gate_chat import SECRET, Store, say
from tests.e2e.harness import RunningApp, running_app, slack_settings
from tests.fakes.slack_api import FakeSlackAPI

pytestmark = pytest.mark.e2e

ALICE, BOB, DAN = "U0ALICE", "U0BOB", "U0DAN"


@pytest.fixture
def app(db_url: str, slack: FakeSlackAPI) -> Iterator[RunningApp]:
    settings = slack_settings(db_url, slack.url, SLACK_SIGNING_SECRET=SECRET)
    with running_app(settings) as running:
        yield running


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    reader = Store(db_url)
    yield reader
    reader.close()


def refused(app: RunningApp, slack: FakeSlackAPI, store: Store, user: str, text: str) -> str:
    """The answer to `text`, checked to have changed nothing in the store."""
    before = store.counts()
    answer = say(app.url, slack, user, text)
    assert store.counts() == before, f"{text!r} changed the store; answered {answer!r}"
    return answer


def test_bad_requests_get_a_specific_answer_and_change_nothing(
    app: RunningApp, slack: FakeSlackAPI, store: Store
) -> None:
    answer = refused(app, slack, store, ALICE, "gate request support-asistant production")
    assert "I don't know a project called “support-asistant”" in answer
    assert "support-assistant, ticket-summarizer" in answer  # what it could have been

    answer = refused(app, slack, store, ALICE, "gate request support-assistant prodution")
    assert "“prodution” is not a stage" in answer
    assert "explore, poc, pilot, production, scale" in answer

    answer = refused(app, slack, store, ALICE, "gate request support-assistant scale")
    assert "its next gate is production, not scale" in answer

    answer = refused(app, slack, store, ALICE, "gate request support-assistant pilot")
    assert "pilot" in answer and "Support assistant" in answer  # already there

    answer = refused(app, slack, store, BOB, "gate request support-assistant production")
    assert "Alice Kim" in answer  # Bob may not: the owner (or an Accountable person) may

    assert store.counts().requests == 0
    answer = say(app.url, slack, ALICE, "gate request support-assistant production")
    assert "Requested gate #1" in answer
    assert store.counts().requests == 1

    answer = refused(app, slack, store, ALICE, "gate request Support Assistant production")
    assert "Support assistant already has an open gate request: #1 → production." in answer


def test_bad_decisions_get_a_specific_answer_and_change_nothing(
    app: RunningApp, slack: FakeSlackAPI, store: Store
) -> None:
    assert "Requested gate #1" in say(
        app.url, slack, ALICE, "gate request support-assistant production"
    )
    for empty in ("gate reject 1", "gate reject 1    "):
        answer = refused(app, slack, store, DAN, empty)
        assert "A rejection needs a reason" in answer, answer
        assert "gate reject 1 the rollback plan is missing" in answer

    answer = refused(app, slack, store, DAN, "gate approve 99")
    assert "There is no gate request #99." in answer
    answer = refused(app, slack, store, DAN, "gate reject 99 not ready")
    assert "There is no gate request #99." in answer

    answer = refused(app, slack, store, BOB, "gate approve 1")
    assert "legal, security, cs, business" in answer  # who may decide it

    answer = refused(app, slack, store, DAN, "gate approve one")
    assert "Usage: gate request" in answer

    # A real decision still works afterwards, and its double is recorded once.
    assert "You approved gate #1." in say(app.url, slack, DAN, "gate approve 1")
    answer = refused(app, slack, store, DAN, "gate approve 1")
    assert "already recorded" in answer
    assert store.decisions(1) == [("dan", "approve", 1)]

    answer = say(app.url, slack, "U0ERIN", "gate reject 1 no penetration test yet")
    assert "You rejected gate #1" in answer
    assert store.request(1).status == "rejected"
    answer = refused(app, slack, store, "U0GRACE", "gate approve 1")
    assert "rejected" in answer  # closed: a late approval changes nothing
