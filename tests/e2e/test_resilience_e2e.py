"""Crashes and replicas: the bot killed mid-incident, and two bots on one PostgreSQL.

These run the real `launchops serve` as child processes (so SIGKILL is a real crash) against
the loopback fake Slack Web API, with 2-second acknowledge deadlines.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from launchops.main import CLAIM_TTL_SECONDS
from tests.conftest import create_postgres_database, drop_postgres_database, fast_config
from tests.e2e.process import ServeProcess
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall
from tests.fakes.slack_requests import sign, slash_command_body

pytestmark = pytest.mark.e2e

SECRET = "resilience-secret"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake
        fake.assert_valid()


def _env(database_url: str, slack: FakeSlackAPI, config: Path) -> dict[str, str]:
    return {
        "LAUNCHOPS_DATABASE_URL": database_url,
        "LAUNCHOPS_CONFIG_DIR": str(config),
        "SLACK_BOT_TOKEN": "xoxb-resilience",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "LAUNCHOPS_API_TOKEN": "t",
    }


def declare(bot: ServeProcess, slack: FakeSlackAPI, title: str, key: str) -> None:
    body = slash_command_body(
        "/incident", f"p1 retriever: {title}", "U0ALICE", "C0GENERAL", slack.response_url(key)
    )
    response = httpx.post(
        f"{bot.url}/slack/events",
        content=body,
        headers=sign(SECRET, body, content_type=FORM),
        timeout=10,
    )
    assert response.status_code == 200, response.text


def _dm_to(slack: FakeSlackAPI, user: str) -> list[RecordedCall]:
    return [c for c in slack.calls("conversations.open") if c.params.get("users") == user]


def test_killed_right_after_declaring_still_escalates_once(
    tmp_path: Path, slack: FakeSlackAPI
) -> None:
    env = _env(f"sqlite:///{tmp_path / 'bot.db'}", slack, fast_config(tmp_path))
    first = ServeProcess(env, tmp_path, "first").start()
    try:
        declare(first, slack, "empty answers", "k1")
    finally:
        first.kill()  # SIGKILL straight after the ack: no graceful anything
    time.sleep(3)  # the 2-second deadline passes while no bot is running
    with ServeProcess(env, tmp_path, "second") as second:
        slack.wait_for(
            "conversations.open", timeout=30, predicate=lambda c: c.params.get("users") == "U0CAROL"
        )
        # The first page went out before the kill, or comes back once the dead process's
        # claim on it lapses (CLAIM_TTL_SECONDS): late, but never lost.
        slack.wait_for(
            "conversations.open",
            timeout=CLAIM_TTL_SECONDS + 15,
            predicate=lambda c: c.params.get("users") == "U0CHRIS",
        )
        time.sleep(4)  # more sweeps and another deadline: nothing may be sent twice
        assert len(_dm_to(slack, "U0CAROL")) == 1, second.log()


def test_two_replicas_on_postgresql_escalate_each_incident_once(
    tmp_path: Path, slack: FakeSlackAPI
) -> None:
    url, name = create_postgres_database()
    try:
        env = _env(url, slack, fast_config(tmp_path))
        with ServeProcess(env, tmp_path, "a") as a, ServeProcess(env, tmp_path, "b") as b:
            for number in range(6):
                declare(a if number % 2 else b, slack, f"replica test {number}", f"r{number}")
            slack.wait_for(
                "conversations.open",
                count=6,
                timeout=40,
                predicate=lambda c: c.params.get("users") == "U0CAROL",
            )
            time.sleep(4)  # let both replicas sweep again: a duplicate would show up now
            assert len(_dm_to(slack, "U0CAROL")) == 6, a.log() + b.log()
            assert len(_dm_to(slack, "U0CHRIS")) == 6
    finally:
        drop_postgres_database(name)
