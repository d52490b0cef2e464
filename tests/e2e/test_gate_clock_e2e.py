"""Reminders and expiry with deadlines in seconds, across crashes of the bot.

The policy's `remind_every`/`expire_after` take the config's durations (`10s`, `30s`). A real
`launchops serve` takes the request and is SIGKILLed before the first reminder is due; the
next process sends it, to those still pending only, and is itself SIGKILLed before expiry;
a third one expires the gate. Each reminder reaches each pending approver once, the expiry is
announced once, every DM with buttons is edited to the outcome, and the stage stays.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.gate_chat import EVERYONE, Store, dm_to, env, gate_config, posts, say, updates
from tests.e2e.process import ServeProcess
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall

pytestmark = pytest.mark.e2e

REMIND, EXPIRE = 10, 30  # seconds
REMINDERS = ("Reminder: gate #1", "알림: 게이트 #1")  # Mia reads Korean
EXPIRED = "gate #1 (Support assistant → Production) expired before every group approved"


def is_reminder(call: RecordedCall) -> bool:
    return any(text in call.params.get("text", "") for text in REMINDERS)


def reminders_to(slack: FakeSlackAPI, user: str) -> int:
    return sum(is_reminder(c) for c in posts(slack, channel=f"D{user}"))


def wait_sent(store: Store, key_prefix: str, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = store.outbox(key_prefix)
        if len(rows) == count and all(r.status == "sent" for r in rows):
            return
        time.sleep(0.1)
    raise AssertionError(f"{key_prefix}: {[(r.id, r.status) for r in store.outbox(key_prefix)]}")


def test_reminders_and_expiry_in_seconds_across_two_crashes(
    tmp_path: Path, slack: FakeSlackAPI
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    bot_env = env(url, slack, gate_config(tmp_path, expire=f"{EXPIRE}s", remind=f"{REMIND}s"))
    store = Store(url)
    try:
        first = ServeProcess(bot_env, tmp_path, "first").start()
        try:
            started = time.monotonic()
            answer = say(first.url, slack, "U0ALICE", "gate request support-assistant production")
            assert "Requested gate #1" in answer, answer
            assert "You approved gate #1" in say(first.url, slack, "U0DAN", "gate approve 1")
            for user in EVERYONE:
                slack.wait_for(
                    "chat.postMessage",
                    timeout=10,
                    predicate=dm_to(user),
                )
            wait_sent(store, "gate:1:ask:", len(EVERYONE))
        finally:
            first.kill()  # SIGKILL well before the first reminder is due
        assert time.monotonic() - started < REMIND - 2, "too slow to crash before the reminder"
        assert not any(is_reminder(c) for c in posts(slack))

        second = ServeProcess(bot_env, tmp_path, "second").start()
        try:
            # Reminder 1 (10 s) to everyone still pending: not Dan, who approved.
            slack.wait_for(
                "chat.postMessage",
                count=4,
                timeout=REMIND + 10,
                predicate=is_reminder,
            )
            assert {u: reminders_to(slack, u) for u in EVERYONE} == {
                "U0DAN": 0,
                "U0ERIN": 1,
                "U0FRANK": 1,
                "U0GRACE": 1,
                "U0MIA": 1,
            }
            # Customer support's one approval: Frank and Mia are no longer pending.
            assert "You approved gate #1" in say(second.url, slack, "U0FRANK", "gate approve 1")
            slack.wait_for(
                "chat.postMessage",
                count=6,
                timeout=2 * REMIND + 10,
                predicate=is_reminder,
            )
            # Killed once the sends are recorded: a crash between Slack's answer and that
            # commit would send the DM again (the outbox delivers at least once).
            wait_sent(store, "gate:1:remind:2:", 2)
        finally:
            second.kill()  # SIGKILL between the last reminder (20 s) and expiry (30 s)
        assert store.request(1).status == "open"

        with ServeProcess(bot_env, tmp_path, "third") as third:
            slack.wait_for(
                "chat.postMessage",
                timeout=EXPIRE + 15,
                predicate=lambda c: EXPIRED in c.params.get("text", ""),
            )
            # The DMs with buttons (5 requests, 6 reminders), each edited to the outcome.
            slack.wait_for(
                "chat.update",
                count=11,
                timeout=20,
                predicate=lambda c: c.params["channel"].startswith("D"),
            )
            time.sleep(3)  # more sweeps: nothing more may be sent
            log = third.log()
            assert len(posts(slack, channel="C0MLTEAM", text=EXPIRED)) == 1, log
            assert {u: reminders_to(slack, u) for u in EVERYONE} == {
                "U0DAN": 0,
                "U0ERIN": 2,
                "U0FRANK": 1,
                "U0GRACE": 2,
                "U0MIA": 1,
            }, log
            assert sorted(
                c.params["channel"] for c in updates(slack) if c.params["channel"].startswith("D")
            ) == sorted(
                [f"D{u}" for u in EVERYONE]
                + ["DU0ERIN", "DU0FRANK", "DU0GRACE", "DU0MIA"]
                + ["DU0ERIN", "DU0GRACE"]
            )
            answer = say(third.url, slack, "U0ALICE", "gate status support-assistant")
            assert answer.startswith("stage: pilot"), answer
            assert "gate #1: pilot → production, Expired" in answer
        assert store.request(1).status == "expired"
        assert store.stage("support-assistant") == "pilot"
        assert store.audit("gate.reminded") == 2
        assert store.audit("gate.expired") == 1
        assert len(store.outbox("gate:1:remind:1:")) == 4
        assert len(store.outbox("gate:1:remind:2:")) == 2
        assert len(store.outbox("gate:1:announce:")) == 1
    finally:
        store.close()
