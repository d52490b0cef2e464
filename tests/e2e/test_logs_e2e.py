"""The log a real `launchops serve` writes, read as an operator (and an auditor) would.

One Slack-only bot runs as a child process; requests carry an email, a phone number, a card
number and tokens in query strings, headers and chat text. Then its whole output is scanned:
none of them may appear raw, every request has one access line from the app (route template,
status, milliseconds, request id), the 1-second escalation sweep is silent, and a Slack-only
install says nothing about Teams.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import fast_config
from tests.e2e.process import ServeProcess
from tests.e2e.slack_ack import ack_answer
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_requests import sign, slash_command_body

pytestmark = pytest.mark.e2e

SECRET = "log-test-signing-secret"
FORM = "application/x-www-form-urlencoded"
EMAIL = "minji.kang@example.com"
PHONE = "010-9876-5432"
CARD = "4111 1111 1111 1111"
SLACK_TOKEN = "xoxb-1234567890-abcdefghijklmnop"
PII = (EMAIL, PHONE, CARD, SLACK_TOKEN, "4111111111111111", "xoxb-log-test-token")


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
def bot(tmp_path: Path, slack: FakeSlackAPI) -> Iterator[ServeProcess]:
    env = {
        "LAUNCHOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "LAUNCHOPS_CONFIG_DIR": str(fast_config(tmp_path)),
        "SLACK_BOT_TOKEN": "xoxb-log-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "LAUNCHOPS_API_TOKEN": "api-token-for-logs",
    }
    with ServeProcess(env, tmp_path, name="logs") as process:
        yield process


def _slash(bot: ServeProcess, slack: FakeSlackAPI, command: str, text: str) -> None:
    body = slash_command_body(command, text, "U0ALICE", "C0MLTEAM", slack.response_url("l"))
    headers = sign(SECRET, body, content_type=FORM)
    ack_answer(httpx.post(f"{bot.url}/slack/events", content=body, headers=headers))


def test_the_log_is_masked_complete_and_quiet(bot: ServeProcess, slack: FakeSlackAPI) -> None:
    with httpx.Client(base_url=bot.url, timeout=10) as client:
        client.get(f"/api/v1/incidents?component={EMAIL}&token={SLACK_TOKEN}")
        client.get(
            "/api/v1/incidents",
            params={"component": PHONE},
            headers={"Authorization": "Bearer api-token-for-logs", "X-Request-Id": "req-42"},
        )
        client.get(f"/no/such/page?card={CARD}")
    _slash(bot, slack, "/owner", f"{EMAIL} {PHONE}")
    _slash(bot, slack, "/incident", f"p2 rag: card {CARD} refused for {EMAIL}")
    time.sleep(2.5)  # a few runs of the 1-second sweep
    bot.stop()
    output = bot.log()

    for secret in PII:
        assert secret not in output, f"{secret!r} reached the log"

    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "http.request"]
    routes = {(line["method"], line["route"], line["status"]) for line in access}
    assert ("GET", "/api/v1/incidents", 401) in routes
    assert ("GET", "/api/v1/incidents", 422) in routes  # no component called that
    assert ("POST", "/slack/events", 200) in routes
    assert ("GET", "unmatched", 404) in routes
    assert all(isinstance(line["ms"], float) and line["request_id"] for line in access)
    assert any(line["request_id"] == "req-42" for line in access)
    assert not any(line.get("route") == "/readyz" for line in access)  # probes stay quiet

    non_json = [line for line in output.splitlines() if line.strip() and not line.startswith("{")]
    assert non_json == [], "every line is structured (uvicorn's own access log is off)"
    assert not any("Running job" in str(line.get("event")) for line in lines)  # APScheduler
    assert not any("teams" in json.dumps(line).lower() for line in lines if line["level"] != "info")
