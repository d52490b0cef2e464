"""DESIGN.md §5 counted, not assumed: a Slack question writes nothing to the store and makes
no outgoing HTTP call (its answer is the ack body); a declaration makes exactly one commit,
and its confirmation is in the ack too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.e2e.harness import (
    RunningApp,
    make_settings,
    on_background_thread,
    running_app,
    wait_for_quiet_store,
)
from tests.e2e.slack_ack import ack_answer
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_requests import FORM, sign, slash_command_body

pytestmark = pytest.mark.e2e

SECRET = "ack-signing-secret"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class StoreActivity:
    def __init__(self) -> None:
        self.writes: list[str] = []
        self.commits = 0


@contextmanager
def counting(app: RunningApp) -> Iterator[StoreActivity]:
    """Every write statement, and every commit of a transaction that wrote, on the app's
    engine, from any thread but the bot's own background ones (scheduler, dispatcher)."""
    seen = StoreActivity()
    engine = app.ctx.engine

    def on_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if on_background_thread():  # the scheduler's sweeps: not the request's
            return
        if statement.lstrip().upper().startswith(_WRITES):
            seen.writes.append(statement.split("(")[0].strip())
            conn.info["test.wrote"] = True

    def on_commit(conn: Any) -> None:
        # Only transactions that wrote: the scheduler's sweeps commit empty ones every second.
        if conn.info.pop("test.wrote", False):
            seen.commits += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)


@pytest.fixture
def app(sqlite_url: str, slack: FakeSlackAPI) -> Iterator[RunningApp]:
    settings = make_settings(
        sqlite_url,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.url,
    )
    with running_app(settings) as running:
        # The dispatcher and the scheduler write on their own: not part of what is counted.
        running.ctx.dispatcher.stop()
        wait_for_quiet_store(running)
        yield running


def _slash(app: RunningApp, slack: FakeSlackAPI, command: str, text: str) -> Any:
    body = slash_command_body(command, text, "U0ALICE", "C0DATA", slack.response_url("q"))
    with app.client() as client:
        return client.post(
            "/slack/events", content=body, headers=sign(SECRET, body, content_type=FORM)
        )


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("/owner", "rag", "Carol Jones"),
        ("/launchops", "owns data", "Retriever"),
        ("/launchops", "help", "who owns"),
        ("/incident", "status", "INC"),
        ("/owner", "retreiver", "Did you mean"),  # a refusal
        ("/incident", "p9 rag: x", "not a severity"),  # a usage message
    ],
)
def test_a_question_writes_nothing_and_calls_nobody(
    app: RunningApp, slack: FakeSlackAPI, command: str, text: str, expected: str
) -> None:
    _slash(app, slack, "/incident", "p2 retriever: seed so that status lists one")
    slack.clear()
    with counting(app) as store:
        answer = ack_answer(_slash(app, slack, command, text))
    assert expected in str(answer.params)
    # No INSERT/UPDATE/DELETE at all (a read-only unit may still end in an empty COMMIT).
    assert store.writes == []
    assert slack.calls() == []  # no response_url, no Web API call


def test_a_declaration_is_one_commit_with_its_confirmation_in_the_ack(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    with counting(app) as store:
        answer = ack_answer(_slash(app, slack, "/incident", "p1 retriever: empty answers"))
    assert "Declared INC-1 (P1)" in answer.params["text"]
    assert store.commits == 1
    assert "INSERT INTO incident" in store.writes and "INSERT INTO outboxmessage" in store.writes
    assert slack.calls("response_url") == []


def test_a_slash_command_is_measured_and_logged_under_its_route(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    """Slack's route is served past FastAPI's router (web.SlackEventsRoute), yet counted,
    timed and given a request id like any route, under its template."""
    response = _slash(app, slack, "/owner", "rag")
    assert response.status_code == 200
    assert len(response.headers["x-request-id"]) == 16
    with app.client() as client:
        metrics = client.get("/metrics").text
        assert client.get("/slack/events").status_code == 405  # other methods: FastAPI's
    assert (
        'launchops_http_requests_total{handler="/slack/events",method="POST",status="200"}'
        in metrics
    )
    assert 'launchops_http_request_seconds_count{handler="/slack/events"}' in metrics
