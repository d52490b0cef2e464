"""Two `launchops serve` replicas on one PostgreSQL, approvers deciding at the same moment on
both (each also double-sending to the other replica, like a retry): every decision is recorded
exactly once, the pass is announced exactly once, and the project moves. Both replicas also
sweep the same gate every second: each reminder and the expiry go out once.

Real child processes, text commands as signed Slack slash commands, the loopback fake Slack
Web API counting what each replica sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.gate_chat import (
    EVERYONE,
    Store,
    dm_to,
    env,
    gate_config,
    posts,
    say,
    updates,
)
from tests.e2e.process import ServeProcess
from tests.fakes.slack_api import FakeSlackAPI

pytestmark = pytest.mark.e2e


@pytest.fixture
def deadlines() -> tuple[str, str]:
    """(expire_after, remind_every) of the replicas' policy; a test may parametrize it."""
    return "7d", "1d"


@pytest.fixture
def replicas(
    tmp_path: Path, slack: FakeSlackAPI, deadlines: tuple[str, str]
) -> Iterator[tuple[ServeProcess, ServeProcess, Store]]:
    url, name = create_postgres_database()
    store = Store(url)
    expire, remind = deadlines
    bot_env = env(url, slack, gate_config(tmp_path, expire=expire, remind=remind))
    try:
        with (
            ServeProcess(bot_env, tmp_path, "a") as a,
            ServeProcess(bot_env, tmp_path, "b") as b,
        ):
            yield a, b, store
    finally:
        store.close()
        drop_postgres_database(name)


def at_once(slack: FakeSlackAPI, calls: list[tuple[ServeProcess, str, str]]) -> list[str]:
    """Send each (replica, user, text) from its own thread, released together."""
    barrier = threading.Barrier(len(calls))
    answers: list[str] = [""] * len(calls)
    errors: list[BaseException] = []

    def one(index: int, bot: ServeProcess, user: str, text: str) -> None:
        try:
            barrier.wait(timeout=10)
            answers[index] = say(bot.url, slack, user, text)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return answers


def test_simultaneous_decisions_on_two_replicas_count_once_and_pass_once(
    replicas: tuple[ServeProcess, ServeProcess, Store], slack: FakeSlackAPI
) -> None:
    a, b, store = replicas
    answer = say(a.url, slack, "U0ALICE", "gate request support-assistant production")
    assert "Requested gate #1" in answer, answer
    for user in EVERYONE:  # each approver's DM, sent once by one of the replicas
        slack.wait_for(
            "chat.postMessage",
            timeout=20,
            predicate=dm_to(user),
        )
    say(b.url, slack, "U0FRANK", "gate approve 1")
    say(a.url, slack, "U0GRACE", "gate approve 1")

    # Legal and security at the same moment, each on both replicas (a double send).
    answers = at_once(
        slack,
        [
            (a, "U0DAN", "gate approve 1"),
            (b, "U0DAN", "gate approve 1"),
            (b, "U0ERIN", "gate approve 1"),
            (a, "U0ERIN", "gate approve 1"),
        ],
    )
    for answer in answers:
        assert "You approved gate #1" in answer or "already recorded" in answer, answers
    assert sum("You approved gate #1" in answer for answer in answers) == 2, answers
    assert sum("now in Production" in answer for answer in answers) == 1, answers

    assert sorted(store.decisions(1)) == [
        ("dan", "approve", 1),
        ("erin", "approve", 1),
        ("frank", "approve", 1),
        ("grace", "approve", 1),
    ]
    assert store.request(1).status == "passed"
    assert store.stage("support-assistant") == "production"
    assert store.audit("gate.passed") == 1
    assert store.audit("gate.decided") == 4
    assert len(store.outbox("gate:1:announce:")) == 1

    announced = "Support assistant moved to Production"
    slack.wait_for(
        "chat.postMessage", timeout=20, predicate=lambda c: announced in c.params.get("text", "")
    )
    # Every approver's DM is edited once to the outcome, without its buttons.
    slack.wait_for(
        "chat.update",
        count=len(EVERYONE),
        timeout=20,
        predicate=lambda c: c.params["channel"].startswith("D"),
    )
    time.sleep(3)  # both replicas keep dispatching and sweeping: a duplicate would show now
    assert len(posts(slack, channel="C0MLTEAM", text=announced)) == 1, a.log() + b.log()
    for user in EVERYONE:
        [edit] = updates(slack, channel=f"D{user}")
        assert "Approve" not in str(edit.params.get("blocks", "")), edit.params
    answer = say(b.url, slack, "U0ALICE", "gate status support-assistant")
    assert answer.startswith("stage: production"), answer


def test_a_second_race_on_another_project_and_each_replica_answering_status(
    replicas: tuple[ServeProcess, ServeProcess, Store], slack: FakeSlackAPI
) -> None:
    a, b, store = replicas
    assert "Requested gate #1" in say(b.url, slack, "U0BOB", "gate request ticket-summarizer pilot")
    slack.wait_for(
        "chat.postMessage",
        count=2,
        timeout=20,
        predicate=lambda c: c.params["channel"] in ("DU0GRACE", "DU0ERIN"),
    )
    answers = at_once(
        slack,
        [
            (a, "U0GRACE", "gate approve 1"),
            (b, "U0ERIN", "gate approve 1"),
            (b, "U0GRACE", "gate approve 1"),
            (a, "U0ERIN", "gate approve 1"),
        ],
    )
    assert sum("You approved gate #1" in answer for answer in answers) == 2, answers
    assert sorted(store.decisions(1)) == [("erin", "approve", 1), ("grace", "approve", 1)]
    assert store.stage("ticket-summarizer") == "pilot"
    assert store.audit("gate.passed") == 1
    announced = "Ticket summarizer moved to Pilot"
    slack.wait_for(
        "chat.postMessage", timeout=20, predicate=lambda c: announced in c.params.get("text", "")
    )
    time.sleep(3)
    assert len(posts(slack, text=announced)) == 1
    for bot in (a, b):
        answer = say(bot.url, slack, "U0BOB", "gate status ticket-summarizer")
        assert answer.startswith("stage: pilot"), answer
        assert "gate #1: poc → pilot, Passed" in answer


REMINDERS = ("Reminder: gate #1", "알림: 게이트 #1")  # Mia reads Korean


@pytest.mark.parametrize("deadlines", [("12s", "4s")])
def test_two_replicas_sweeping_remind_once_and_expire_once(
    replicas: tuple[ServeProcess, ServeProcess, Store], slack: FakeSlackAPI
) -> None:
    a, b, store = replicas
    assert "Requested gate #1" in say(
        a.url, slack, "U0ALICE", "gate request support-assistant production"
    )
    assert "You approved gate #1" in say(b.url, slack, "U0DAN", "gate approve 1")
    expired = "gate #1 (Support assistant → Production) expired before every group approved"
    slack.wait_for(
        "chat.postMessage", timeout=30, predicate=lambda c: expired in c.params.get("text", "")
    )
    # 5 requests and 8 reminders (4 s and 8 s, to the four still pending), each edited.
    slack.wait_for(
        "chat.update", count=13, timeout=20, predicate=lambda c: c.params["channel"].startswith("D")
    )
    time.sleep(3)  # both replicas sweep and dispatch on: a duplicate would show now
    log = a.log() + b.log()
    reminders = {
        user: sum(
            any(text in c.params.get("text", "") for text in REMINDERS)
            for c in posts(slack, channel=f"D{user}")
        )
        for user in EVERYONE
    }
    assert reminders == {"U0DAN": 0, "U0ERIN": 2, "U0FRANK": 2, "U0GRACE": 2, "U0MIA": 2}, log
    assert len(posts(slack, text=expired)) == 1, log
    assert len(updates(slack)) == 13 + 2, log  # and the summary card: Dan's vote, the expiry
    assert store.audit("gate.reminded") == 2 and store.audit("gate.expired") == 1
    assert store.request(1).status == "expired"
    assert store.stage("support-assistant") == "pilot"
