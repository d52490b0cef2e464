"""Shared by the odd-input e2e tests: one running app, signed posts, and the checks that a
request Slack would never send was refused cleanly (DESIGN.md §5 "Bad input").

One app serves a whole module (starting it per example would make the hypothesis test take
minutes); each check clears the fake Web API and compares store row counts, so examples do
not see each other's traces.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from launchops.store import upgrade_schema
from launchops.store.models import AuditEntry, InboundReceipt, Incident, OutboxMessage
from tests.e2e.harness import RunningApp, make_settings, running_app, wait_for_quiet_store
from tests.e2e.slack_ack import ack_answer
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall
from tests.fakes.slack_requests import FORM, sign, slash_command_body

SECRET = "odd-input-signing-secret"
_TABLES = (Incident, OutboxMessage, AuditEntry, InboundReceipt)


@dataclass
class OddInputBot:
    app: RunningApp
    slack: FakeSlackAPI
    client: httpx.Client

    def post(self, body: bytes, content_type: str | None) -> httpx.Response:
        """`body` exactly as given, correctly signed, to the real endpoint."""
        headers = sign(SECRET, body, content_type=content_type)
        return self.client.post("/slack/events", content=body, headers=headers)

    def rows(self) -> dict[str, int]:
        return store_rows(self.app)

    def assert_still_answers(self) -> None:
        """`/owner rag` still gets its RACI answer: the odd request broke nothing."""
        self.slack.clear()
        body = slash_command_body(
            "/owner", "rag", "U0ALICE", "C0GENERAL", self.slack.response_url("after")
        )
        assert _owner_answer(ack_answer(self.post(body, FORM)))


def _owner_answer(call: RecordedCall) -> bool:
    return "Retriever" in str(call.params.get("text", ""))


def store_rows(app: RunningApp) -> dict[str, int]:
    """Row counts of the tables any accepted request would write to."""
    with Session(app.ctx.engine) as session:
        return {
            table.__name__: session.exec(select(func.count()).select_from(table)).one()
            for table in _TABLES
        }


@contextmanager
def odd_input_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OddInputBot]:
    url = f"sqlite:///{tmp_path_factory.mktemp('odd-input') / 'launchops.db'}"
    upgrade_schema(url)
    with FakeSlackAPI() as slack:
        settings = make_settings(
            url,
            SLACK_BOT_TOKEN="xoxb-test-token",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.url,
        )
        with running_app(settings) as app, app.client() as client:
            wait_for_quiet_store(app)  # the scheduler's start-up work (a roadmap nudge)
            yield OddInputBot(app, slack, client)


def assert_refused_cleanly(
    response: httpx.Response, records: list[logging.LogRecord], *, expect_warning: bool = True
) -> None:
    """< 500, no traceback in the answer or the log, and (when asked) a warning line."""
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    assert "\n" not in response.text.strip()  # a one-line reason
    for record in records:
        text = record.getMessage()
        assert record.levelno < logging.ERROR, text
        assert record.exc_info is None and "Traceback" not in text, text
    if expect_warning:
        warnings = [r for r in records if r.levelno == logging.WARNING]
        assert warnings, "a warning log line names the refusal"
