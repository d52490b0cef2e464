"""The roadmap's nudges and their buttons through Teams, end to end (issue 11).

The real app runs with Teams as its only chat platform, its scheduler on, over the example
organisation with stage clocks in seconds (tests/services/roadmap_support.py): the Ticket
summarizer is a PoC owned by Bob with Dan as sponsor, the Support assistant a Pilot owned by
Alice, sponsor Dan. Buttons are Action.Execute; Extend and Stop open their boxes on the card
(a new date and a reason; a reason), which Teams merges into the invoke's `data`. The
loopback Bot Connector validates every card against the Adaptive Card 1.5 schema.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from launchops.store.gate_models import GateRequest
from launchops.store.roadmap_models import ProjectStop, RoadmapNudge, StageExtension
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.gate_chat import Store
from tests.e2e.harness import RunningApp, make_settings, running_app
from tests.e2e.process import ServeProcess
from tests.e2e.test_teams_gates_e2e import buttons, in_ml_channel, press
from tests.e2e.test_teams_incidents_e2e import (
    ALICE,
    execute,
    inputs,
    message,
    personal_chat,
    plain,
    texts,
)
from tests.fakes.teams_connector import FakeBotConnector, RecordedActivity
from tests.services.roadmap_support import fast_roadmap

pytestmark = pytest.mark.e2e

BOB = {"id": "29:1bob", "name": "Bob Lee", "aadObjectId": "aad-bob"}
CAROL = {"id": "29:1carol", "name": "Carol Jones", "aadObjectId": "aad-carol"}
DAN = {"id": "29:1dan", "name": "Dan Rivera", "aadObjectId": "aad-dan"}
TIMEBOX_UP = "timebox is up"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        yield fake
        fake.assert_valid()


def teams_app(
    sqlite_url: str, tmp_path: Path, connector: FakeBotConnector, timebox: int, limit: int
) -> Any:
    settings = make_settings(
        sqlite_url,
        LAUNCHOPS_TEAMS_SERVICE_URL=connector.url,
        LAUNCHOPS_TEAMS_ANONYMOUS="true",
        LAUNCHOPS_CHAT_PLATFORMS="teams",
        LAUNCHOPS_CONFIG_DIR=str(fast_roadmap(tmp_path, timebox=timebox, limit=limit)),
    )
    return running_app(settings)


@pytest.fixture
def app(sqlite_url: str, tmp_path: Path, connector: FakeBotConnector) -> Iterator[RunningApp]:
    with teams_app(sqlite_url, tmp_path, connector, 2, 7200) as running:
        yield running


def said(record: RecordedActivity) -> str:
    return "\n".join(texts(card) for card in record.cards) or plain(record.text)


def messages_in(
    connector: FakeBotConnector, conversation: str, words: str
) -> list[RecordedActivity]:
    return [
        r
        for r in connector.calls("send_to_conversation")
        if r.conversation_id == conversation and words in said(r)
    ]


def nudge(
    connector: FakeBotConnector, user: dict[str, str], words: str = TIMEBOX_UP
) -> RecordedActivity:
    chat = personal_chat(connector, user, timeout=20)
    [found] = connector.wait_for(
        1,
        20,
        lambda r: (
            r.route == "send_to_conversation" and r.conversation_id == chat and words in said(r)
        ),
    )
    return found


def rows(app: RunningApp, model: Any) -> list[Any]:
    with Session(app.ctx.engine) as session:
        return list(session.exec(select(model)).all())


def answered(body: dict[str, Any]) -> str:
    if body["type"] == MESSAGE_TYPE:
        return str(body["value"])
    return texts(body["value"])


def test_nudge_buttons_extend_request_gate_and_stop(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    bob_nudge = nudge(connector, BOB)
    alice_nudge = nudge(connector, ALICE)
    assert "Ticket summarizer" in said(bob_nudge) and "Does it work?" in said(bob_nudge)
    [card] = bob_nudge.cards
    actions = {a["title"]: a for a in card["actions"]}
    assert list(actions) == ["Request gate", "Extend", "Stop"]
    assert actions["Request gate"]["type"] == "Action.Execute"
    extend_box = actions["Extend"]["card"]
    assert [b["id"] for b in extend_box["body"]] == ["when", "reason"]
    assert all(b["isRequired"] for b in extend_box["body"])
    assert [b["id"] for b in actions["Stop"]["card"]["body"]] == ["reason"]

    # Carol is neither owner nor sponsor; Bob's forged value names Alice's project.
    stranger = press(app, connector, CAROL, bob_nudge, "Stop", {"reason": "why not"})
    assert "Only Ticket summarizer's owner (Bob Lee) or sponsor (Dan Rivera)" in answered(stranger)
    alice_value = alice_nudge.cards[0]["actions"][1]["card"]["actions"][0]["data"]["value"]
    forged = press(
        app, connector, BOB, bob_nudge, "Extend", {"when": "1h", "reason": "x"}, value=alice_value
    )
    assert "Only Support assistant's owner" in answered(forged)
    garbled = press(app, connector, BOB, bob_nudge, "Request gate", value="nonsense")
    assert "damaged or not one of ours" in answered(garbled)

    # Extend without a reason: the boxes come back with the date kept, nothing changes.
    again = press(app, connector, BOB, bob_nudge, "Extend", {"when": "1h", "reason": " "})
    assert "An extension needs a reason." in answered(again)
    assert inputs(again["value"])["when"]["value"] == "1h"
    assert (
        rows(app, StageExtension) == []
        and rows(app, ProjectStop) == []
        and rows(app, GateRequest) == []
    )

    before = time.time()
    done = press(
        app,
        connector,
        BOB,
        bob_nudge,
        "Extend",
        {"when": "1h", "reason": "waiting for a second customer"},
    )
    assert "Ticket summarizer: PoC extended to" in answered(done)
    [extension] = rows(app, StageExtension)
    assert extension.reason == "waiting for a second customer" and extension.by == "bob"
    assert extension.due_at.timestamp() > before + 3000
    nudge(connector, DAN, "extended to")  # the sponsor is told directly

    # Request gate on Alice's Pilot nudge: the production gate opens, approvers get cards.
    requested = press(app, connector, ALICE, alice_nudge, "Request gate")
    assert "Requested gate #1" in answered(requested)
    [gate] = rows(app, GateRequest)
    assert (gate.project_id, gate.to_stage, gate.status) == (
        "support-assistant",
        "production",
        "open",
    )
    nudge(connector, DAN, "asks you to approve Support assistant")

    # Stop: with a reason, by the owner; announced in the ML team's channel.
    empty = press(app, connector, BOB, bob_nudge, "Stop", {"reason": ""})
    assert "Stopping a project needs a reason." in answered(empty)
    assert rows(app, ProjectStop) == []
    stopped = press(app, connector, BOB, bob_nudge, "Stop", {"reason": "no budget left"})
    assert "Ticket summarizer was stopped" in answered(stopped)
    [stop] = rows(app, ProjectStop)
    assert stop.reason == "no budget left" and stop.by == "bob"
    connector.wait_for(
        1,
        predicate=lambda r: (
            in_ml_channel(r) and "Ticket summarizer was stopped in PoC by Bob Lee" in said(r)
        ),
    )
    # One nudge each, whatever the sweeps since.
    bob_chat = personal_chat(connector, BOB)
    assert len(messages_in(connector, bob_chat, TIMEBOX_UP)) == 1


def test_past_the_limit_the_sponsor_is_told_once_on_teams(
    sqlite_url: str, tmp_path: Path, connector: FakeBotConnector
) -> None:
    with teams_app(sqlite_url, tmp_path, connector, 1, 3) as running:
        told = nudge(connector, DAN, "Ticket summarizer is over its hard limit")
        time.sleep(3)  # more sweeps: nothing more may be sent
        chat = str(told.conversation_id)
        assert len(messages_in(connector, chat, "Ticket summarizer is over its hard limit")) == 1
        bob_chat = personal_chat(connector, BOB)
        assert (
            len(messages_in(connector, bob_chat, "Ticket summarizer is over its hard limit")) == 1
        )
        kinds = [(n.project_id, n.kind) for n in rows(running, RoadmapNudge)]
        assert ("ticket-summarizer", "limit") in kinds and len(kinds) == len(set(kinds))


def sent_to(connector: FakeBotConnector, user: dict[str, str], words: str) -> int:
    """Messages to `user` (in any conversation) that say `words`."""
    return sum(
        1
        for r in connector.calls("send_to_conversation")
        if (r.activity.get("recipient") or {}).get("id") == user["id"] and words in said(r)
    )


def test_two_replicas_and_a_crash_send_each_nudge_once_on_teams(
    tmp_path: Path, connector: FakeBotConnector
) -> None:
    url, name = create_postgres_database()
    bot_env = {
        "LAUNCHOPS_DATABASE_URL": url,
        "LAUNCHOPS_CONFIG_DIR": str(fast_roadmap(tmp_path, timebox=3, limit=6)),
        "LAUNCHOPS_TEAMS_ANONYMOUS": "true",
        "LAUNCHOPS_TEAMS_SERVICE_URL": connector.url,
        "LAUNCHOPS_CHAT_PLATFORMS": "teams",
        "LAUNCHOPS_API_TOKEN": "t",
    }
    over = "Support assistant is over its hard limit"
    store = Store(url)
    try:
        with ServeProcess(bot_env, tmp_path, "b"):
            first = ServeProcess(bot_env, tmp_path, "a").start()
            try:
                nudge(connector, DAN, over)
                # Killed once its nudges are recorded as sent: what a restart must not repeat
                # is a nudge (the sweep's claims). A message caught between Teams' answer and
                # its record would go out again after its claim lapses: the outbox is
                # at-least-once by design (delivery/dispatcher.py).
                limit = "Ticket summarizer is over its hard limit"
                last = [(DAN, over), (DAN, limit), (BOB, limit), (ALICE, over)]  # none after
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not (
                    all(sent_to(connector, user, words) for user, words in last)
                    and all(r.status == "sent" for r in store.outbox("roadmap:"))
                ):
                    time.sleep(0.1)
            finally:
                first.kill()  # SIGKILL one replica once the limit notices are out
            with ServeProcess(bot_env, tmp_path, "a2"):
                time.sleep(4)  # sweeps on both replicas: nothing may be sent again
                for project in ("Support assistant", "Ticket summarizer"):
                    limit = f"{project} is over its hard limit"
                    assert sent_to(connector, DAN, limit) == 1, project
                assert sent_to(connector, BOB, "Ticket summarizer is over its hard limit") == 1
                assert sent_to(connector, ALICE, over) == 1
                assert sent_to(connector, BOB, TIMEBOX_UP) <= 1
                assert sent_to(connector, ALICE, TIMEBOX_UP) <= 1
    finally:
        store.close()
        drop_postgres_database(name)


def _invoke(
    connector: FakeBotConnector,
    user: dict[str, str],
    card_message: RecordedActivity,
    label: str,
    typed: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The invoke Teams sends when `user` presses `label` (its box filled in with `typed`)."""
    [card] = card_message.cards
    action = buttons(card)[label]
    if action["type"] == "Action.ShowCard":
        [action] = action["card"]["actions"]
    return execute(
        connector, user, card_message, action["verb"], dict(action["data"]) | (typed or {})
    )


def _to_both(urls: tuple[str, str], activity: dict[str, Any]) -> None:
    """The same invoke to two replicas at once; each answers 200."""
    statuses: list[int] = []

    def send(url: str) -> None:
        statuses.append(httpx.post(f"{url}/api/messages", json=activity, timeout=15).status_code)

    threads = [threading.Thread(target=send, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200, 200], statuses


def _count(url: str, model: Any) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(model)).all())
    finally:
        engine.dispose()


def test_two_replicas_extend_request_gate_and_stop_once_across_a_crash_on_teams(
    tmp_path: Path, connector: FakeBotConnector
) -> None:
    """Each decision pressed once but delivered to both replicas is recorded once; the
    extended clock nudges once more after a replica is killed; a restarted one takes Stop."""
    url, name = create_postgres_database()
    bot_env = {
        "LAUNCHOPS_DATABASE_URL": url,
        "LAUNCHOPS_CONFIG_DIR": str(fast_roadmap(tmp_path, timebox=2, limit=7200)),
        "LAUNCHOPS_TEAMS_ANONYMOUS": "true",
        "LAUNCHOPS_TEAMS_SERVICE_URL": connector.url,
        "LAUNCHOPS_CHAT_PLATFORMS": "teams",
        "LAUNCHOPS_API_TOKEN": "t",
        "LAUNCHOPS_LEADER_CHECK_SECONDS": "0.5",
    }
    a = ServeProcess(bot_env, tmp_path, "a").start()
    try:
        with ServeProcess(bot_env, tmp_path, "b") as b:
            bob_nudge = nudge(connector, BOB)
            alice_nudge = nudge(connector, ALICE)
            # Bob's and Alice's first words reach one replica: both store a conversation
            # reference on a person's first activity, and a first-ever twin insert of it
            # races on the primary key (services/messaging.py, outside this issue).
            for user in (BOB, ALICE):
                first = httpx.post(
                    f"{a.url}/api/messages", json=message(connector, "help", user=user)
                )
                assert first.status_code == 200, first.text
            extend = _invoke(
                connector, BOB, bob_nudge, "Extend", {"when": "10s", "reason": "one more demo"}
            )
            _to_both((a.url, b.url), extend)
            [extension] = _count(url, StageExtension)
            assert (extension.version, extension.reason) == (2, "one more demo")
            _to_both((a.url, b.url), _invoke(connector, ALICE, alice_nudge, "Request gate"))
            [gate] = _count(url, GateRequest)
            assert (gate.project_id, gate.to_stage) == ("support-assistant", "production")

            a.kill()  # the leader or not: the moved clock still nudges, once
            chat = personal_chat(connector, BOB)
            second = connector.wait_for(
                2,
                30,
                lambda r: (
                    r.route == "send_to_conversation"
                    and r.conversation_id == chat
                    and TIMEBOX_UP in said(r)
                ),
            )[1]
            with ServeProcess(bot_env, tmp_path, "a2") as again:
                stop = _invoke(connector, BOB, second, "Stop", {"reason": "vendor withdrew"})
                _to_both((again.url, b.url), stop)
                [stopped] = _count(url, ProjectStop)
                assert (stopped.project_id, stopped.by) == ("ticket-summarizer", "bob")
                announced = "Ticket summarizer was stopped in PoC by Bob Lee"
                connector.wait_for(1, predicate=lambda r: in_ml_channel(r) and announced in said(r))
                time.sleep(4)  # sweeps on both replicas: nothing more may be sent
                channel = [
                    r
                    for r in connector.calls("create_conversation")
                    if in_ml_channel(r) and announced in said(r)
                ]
                assert len(channel) == 1
                assert sent_to(connector, BOB, TIMEBOX_UP) == 2
                assert sent_to(connector, ALICE, TIMEBOX_UP) == 1
                assert len(_count(url, StageExtension)) == 1
                assert len(_count(url, GateRequest)) == 1
                assert "Traceback" not in again.log() + b.log()
    finally:
        a.kill()
        drop_postgres_database(name)
