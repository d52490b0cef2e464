"""The roadmap's nudges and their buttons through Slack, end to end (issue 11).

The example organisation with stage clocks in seconds (tests/services/roadmap_support.py):
the Ticket summarizer is a PoC owned by Bob (U0BOB) with Dan (U0DAN) as sponsor; the
Support assistant a Pilot owned by Alice (U0ALICE), sponsor Dan. Both clocks start at the
first sync. The app runs with its scheduler (the in-process app, or `launchops serve` for
the crash and replica tests); clicks and modal submissions are signed as Slack signs them,
and what the bot sends is read back from FakeSlackAPI, which checks every call against
Slack's spec.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from launchops.store.gate_models import GateRequest
from launchops.store.roadmap_models import ProjectStop, RoadmapNudge, StageExtension
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.gate_chat import Store, env
from tests.e2e.harness import SLACK_SECRET, RunningApp, running_app, slack_settings
from tests.e2e.process import ServeProcess
from tests.e2e.test_slack_incidents_e2e import buttons, dm
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall
from tests.fakes.slack_requests import (
    block_actions_body,
    sign,
    view_submission_body,
)
from tests.services.roadmap_support import fast_roadmap

pytestmark = pytest.mark.e2e

BOB, ALICE, DAN, CAROL = "U0BOB", "U0ALICE", "U0DAN", "U0CAROL"
FORM = "application/x-www-form-urlencoded"
TIMEBOX_UP = "timebox is up"
OVER_LIMIT = "over its hard limit"


def text_of(call: RecordedCall) -> str:
    """Everything a message says: its fallback text and its blocks."""
    return html.unescape(json.dumps(call.params, ensure_ascii=False))


def nudges_to(slack: FakeSlackAPI, user: str, words: str = TIMEBOX_UP) -> list[RecordedCall]:
    return [
        c
        for c in slack.calls("chat.postMessage")
        if c.params.get("channel") == dm(user) and words in text_of(c)
    ]


def wait_nudge(slack: FakeSlackAPI, user: str, project: str, timeout: float = 20) -> RecordedCall:
    [call] = slack.wait_for(
        "chat.postMessage",
        timeout=timeout,
        predicate=lambda c: (
            c.params.get("channel") == dm(user)
            and project in text_of(c)
            and TIMEBOX_UP in text_of(c)
        ),
    )
    return call


def post(url: str, body: bytes) -> httpx.Response:
    response = httpx.post(
        f"{url}/slack/events",
        content=body,
        headers=sign(SLACK_SECRET, body, content_type=FORM),
        timeout=15,
    )
    assert response.status_code == 200, response.text
    return response


def click(
    url: str,
    slack: FakeSlackAPI,
    message: RecordedCall,
    label: str,
    user: str,
    *,
    value: str | None = None,
    trigger: str = "",
) -> tuple[str, int]:
    """`user` clicks `label` on `message`: the trigger id (to find the modal it opened) and
    how many private answers there were before (the click's answer is the next one)."""
    button = buttons(message)[label]
    trigger_id = trigger or f"17000.{user}.{label.replace(' ', '')}.{time.monotonic_ns()}"
    before = len(slack.calls("response_url"))
    post(
        url,
        block_actions_body(
            button["action_id"],
            value if value is not None else button["value"],
            user,
            str(message.params["channel"]),
            "1700000000.000100",
            slack.response_url(f"{user}-{trigger_id}"),
            trigger_id=trigger_id,
            button_text=label,
        ),
    )
    return trigger_id, before


def answer_to(slack: FakeSlackAPI, clicked: tuple[str, int]) -> str:
    """The private answer to a click (or to the modal it opened)."""
    found = slack.wait_for("response_url", count=clicked[1] + 1)
    return html.unescape(str(found[clicked[1]].params.get("text", "")))


def opened(slack: FakeSlackAPI, clicked: tuple[str, int]) -> dict[str, Any]:
    trigger_id = clicked[0]
    [call] = slack.wait_for("views.open", predicate=lambda c: c.params["trigger_id"] == trigger_id)
    view = call.json_param("view")
    assert isinstance(view, dict)
    return view


def submit(
    url: str, view: dict[str, Any], user: str, *, reason: str, when: str | None = None
) -> httpx.Response:
    values: dict[str, Any] = {
        "roadmap_reason": {"value": {"type": "plain_text_input", "value": reason}}
    }
    if when is not None:
        values["roadmap_when"] = {"value": {"type": "plain_text_input", "value": when}}
    body = view_submission_body(
        view["callback_id"],
        values,
        user,
        private_metadata=view["private_metadata"],
        view_id=f"V{time.monotonic_ns()}",
    )
    return post(url, body)


def rows(app_or_store: Any, model: Any) -> list[Any]:
    engine = app_or_store.ctx.engine if isinstance(app_or_store, RunningApp) else app_or_store
    with Session(engine) as session:
        return list(session.exec(select(model)).all())


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str, slack: FakeSlackAPI) -> Iterator[RunningApp]:
    config = fast_roadmap(tmp_path, timebox=2, limit=7200)
    settings = slack_settings(sqlite_url, slack.url, LAUNCHOPS_CONFIG_DIR=str(config))
    with running_app(settings) as running:
        yield running


def test_nudge_once_then_extend_request_gate_and_stop(app: RunningApp, slack: FakeSlackAPI) -> None:
    bob_nudge = wait_nudge(slack, BOB, "Ticket summarizer")
    alice_nudge = wait_nudge(slack, ALICE, "Support assistant")
    assert list(buttons(bob_nudge)) == ["Request gate", "Extend", "Stop"]
    assert "Does it work?" in text_of(bob_nudge)

    # Carol is neither owner nor sponsor: told so, no modal, nothing written.
    trigger = click(app.url, slack, bob_nudge, "Stop", CAROL)
    assert "Only Ticket summarizer's owner (Bob Lee) or sponsor (Dan Rivera)" in answer_to(
        slack, trigger
    )
    # Bob with a forged value naming Alice's project: refused, nothing written.
    trigger = click(
        app.url, slack, bob_nudge, "Extend", BOB, value=buttons(alice_nudge)["Extend"]["value"]
    )
    assert "Only Support assistant's owner" in answer_to(slack, trigger)
    trigger = click(app.url, slack, bob_nudge, "Extend", BOB, value="garbage")
    assert "damaged or not one of ours" in answer_to(slack, trigger)
    assert len(slack.calls("views.open")) == 0

    # Extend: the modal; without a reason it stays open and nothing changes.
    trigger = click(app.url, slack, bob_nudge, "Extend", BOB)
    view = opened(slack, trigger)
    refused = submit(app.url, view, BOB, reason="  ", when="1h").json()
    assert refused["response_action"] == "errors" and "roadmap_reason" in refused["errors"]
    assert rows(app, StageExtension) == []
    bad_date = submit(app.url, view, BOB, reason="more data", when="someday").json()
    assert "roadmap_when" in bad_date["errors"]
    before = time.time()
    done = submit(app.url, view, BOB, reason="two more customers to try it", when="1h")
    assert not done.content or "errors" not in done.json()
    text = answer_to(slack, trigger)
    assert "Ticket summarizer: PoC extended to" in text, text
    [extension] = rows(app, StageExtension)
    assert extension.reason == "two more customers to try it" and extension.by == "bob"
    assert extension.due_at.timestamp() > before + 3000  # the clock moved by an hour
    # The channel hears of it, and the sponsor directly.
    slack.wait_for("chat.postMessage", predicate=lambda c: "extended to" in text_of(c))
    slack.wait_for(
        "chat.postMessage",
        predicate=lambda c: c.params.get("channel") == dm(DAN) and "extended to" in text_of(c),
    )

    # Request gate on Alice's Pilot nudge: the production gate opens, approvers are DMed.
    trigger = click(app.url, slack, alice_nudge, "Request gate", ALICE)
    assert "Requested gate #1" in answer_to(slack, trigger)
    [gate] = rows(app, GateRequest)
    assert (gate.project_id, gate.to_stage, gate.status) == (
        "support-assistant",
        "production",
        "open",
    )
    for approver in ("U0DAN", "U0ERIN", "U0FRANK", "U0GRACE"):
        slack.wait_for(
            "chat.postMessage",
            predicate=lambda c, u=approver: (
                c.params.get("channel") == dm(u) and "gate #1" in text_of(c)
            ),
        )

    # Stop: a reason in the modal; the project is stopped and announced in its channel.
    trigger = click(app.url, slack, bob_nudge, "Stop", BOB)
    view = opened(slack, trigger)
    assert submit(app.url, view, BOB, reason="").json()["response_action"] == "errors"
    assert rows(app, ProjectStop) == []
    submit(app.url, view, BOB, reason="the vendor API was withdrawn")
    assert "Ticket summarizer was stopped" in answer_to(slack, trigger)
    [stop] = rows(app, ProjectStop)
    assert stop.reason == "the vendor API was withdrawn" and stop.by == "bob"
    slack.wait_for(
        "chat.postMessage",
        predicate=lambda c: (
            c.params.get("channel") == "C0MLTEAM"
            and "Ticket summarizer was stopped in PoC by Bob Lee" in text_of(c)
        ),
    )
    # Every nudge went out once, whatever the sweeps since.
    assert len(nudges_to(slack, BOB)) == 1 and len(nudges_to(slack, ALICE)) == 1


def test_past_the_limit_the_sponsor_is_told_once(
    tmp_path: Path, sqlite_url: str, slack: FakeSlackAPI
) -> None:
    config = fast_roadmap(tmp_path, timebox=1, limit=3)
    settings = slack_settings(sqlite_url, slack.url, LAUNCHOPS_CONFIG_DIR=str(config))
    with running_app(settings) as running:
        slack.wait_for(
            "chat.postMessage",
            timeout=20,
            predicate=lambda c: (
                c.params.get("channel") == dm(DAN)
                and "Ticket summarizer is over its hard limit" in text_of(c)
            ),
        )
        time.sleep(3)  # more sweeps: nothing more may be sent
        assert len(nudges_to(slack, DAN, "Ticket summarizer is over its hard limit")) == 1
        assert len(nudges_to(slack, BOB, "Ticket summarizer is over its hard limit")) == 1
        kinds = sorted((n.project_id, n.kind) for n in rows(running, RoadmapNudge))
        assert ("ticket-summarizer", "limit") in kinds
        assert len(kinds) == len(set(kinds))


def test_a_restart_does_not_repeat_a_nudge(tmp_path: Path, slack: FakeSlackAPI) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    bot_env = env(url, slack, fast_roadmap(tmp_path, timebox=2, limit=7200))
    bot_env["SLACK_SIGNING_SECRET"] = SLACK_SECRET
    store = Store(url)
    try:
        first = ServeProcess(bot_env, tmp_path, "first").start()
        try:
            wait_nudge(slack, BOB, "Ticket summarizer")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if all(r.status == "sent" for r in store.outbox("roadmap:")):
                    break
                time.sleep(0.1)
        finally:
            first.kill()  # SIGKILL: no shutdown of any kind
        with ServeProcess(bot_env, tmp_path, "second") as second:
            time.sleep(4)  # several sweeps
            assert len(nudges_to(slack, BOB)) == 1, second.log()
            assert len(nudges_to(slack, ALICE)) == 1, second.log()
            # The buttons of the first process's message still work in the second.
            message = nudges_to(slack, BOB)[0]
            trigger = click(second.url, slack, message, "Request gate", BOB)
            assert "Requested gate #1" in answer_to(slack, trigger)
    finally:
        store.close()


def test_two_replicas_on_postgresql_send_each_nudge_once(
    tmp_path: Path, slack: FakeSlackAPI
) -> None:
    url, name = create_postgres_database()
    bot_env = env(url, slack, fast_roadmap(tmp_path, timebox=3, limit=6))
    bot_env["SLACK_SIGNING_SECRET"] = SLACK_SECRET
    try:
        with ServeProcess(bot_env, tmp_path, "a"), ServeProcess(bot_env, tmp_path, "b"):
            slack.wait_for(
                "chat.postMessage",
                timeout=30,
                predicate=lambda c: (
                    c.params.get("channel") == dm(DAN)
                    and "Support assistant is over its hard limit" in text_of(c)
                ),
            )
            time.sleep(3)
            for user, project in ((BOB, "Ticket summarizer"), (ALICE, "Support assistant")):
                timebox = [c for c in nudges_to(slack, user) if project in text_of(c)]
                limit = [c for c in nudges_to(slack, user, OVER_LIMIT) if project in text_of(c)]
                assert len(timebox) <= 1 and len(limit) == 1, (user, project)
            for project in ("Ticket summarizer", "Support assistant"):
                told = [c for c in nudges_to(slack, DAN, OVER_LIMIT) if project in text_of(c)]
                assert len(told) == 1, project
    finally:
        drop_postgres_database(name)


def _both(urls: tuple[str, str], body: bytes) -> None:
    """The same signed request to two replicas at once (a retry landing on the other one,
    or a double submit)."""
    errors: list[BaseException] = []

    def send(url: str) -> None:
        try:
            post(url, body)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors


def _modal_body(view: dict[str, Any], user: str, reason: str, when: str | None = None) -> bytes:
    values: dict[str, Any] = {
        "roadmap_reason": {"value": {"type": "plain_text_input", "value": reason}}
    }
    if when is not None:
        values["roadmap_when"] = {"value": {"type": "plain_text_input", "value": when}}
    return view_submission_body(
        view["callback_id"],
        values,
        user,
        private_metadata=view["private_metadata"],
        view_id=f"V{time.monotonic_ns()}",
    )


def _click_body(message: RecordedCall, label: str, user: str, slack: FakeSlackAPI) -> bytes:
    button = buttons(message)[label]
    trigger_id = f"17000.{user}.{label.replace(' ', '')}.{time.monotonic_ns()}"
    return block_actions_body(
        button["action_id"],
        button["value"],
        user,
        str(message.params["channel"]),
        "1700000000.000100",
        slack.response_url(f"{user}-{trigger_id}"),
        trigger_id=trigger_id,
        button_text=label,
    )


def test_two_replicas_on_postgresql_extend_request_gate_and_stop_once_across_a_restart(
    tmp_path: Path, slack: FakeSlackAPI
) -> None:
    """Every decision a nudge asks for, each sent to both replicas at once, is recorded
    once; the extended clock survives the leader's crash: its new deadline nudges once."""
    url, name = create_postgres_database()
    bot_env = env(url, slack, fast_roadmap(tmp_path, timebox=2, limit=7200))
    bot_env["SLACK_SIGNING_SECRET"] = SLACK_SECRET
    bot_env["LAUNCHOPS_LEADER_CHECK_SECONDS"] = "0.5"
    store = Store(url)
    a = ServeProcess(bot_env, tmp_path, "a").start()
    try:
        with ServeProcess(bot_env, tmp_path, "b") as b:
            urls = (a.url, b.url)
            bob_nudge = wait_nudge(slack, BOB, "Ticket summarizer", timeout=30)
            alice_nudge = wait_nudge(slack, ALICE, "Support assistant", timeout=30)

            # Extend: the modal's submission reaches both replicas; one extension.
            trigger = click(a.url, slack, bob_nudge, "Extend", BOB)
            view = opened(slack, trigger)
            _both(urls, _modal_body(view, BOB, "two more customers to try it", when="10s"))
            [extension] = rows(store.engine, StageExtension)
            assert (extension.version, extension.reason) == (2, "two more customers to try it")

            # Request gate, the same click on both replicas: one gate, each approver asked once.
            _both(urls, _click_body(alice_nudge, "Request gate", ALICE, slack))
            [gate] = rows(store.engine, GateRequest)
            assert (gate.project_id, gate.to_stage) == ("support-assistant", "production")
            asked = slack.wait_for(
                "chat.postMessage",
                predicate=lambda c: (
                    c.params.get("channel") == dm("U0ERIN") and "gate #1" in text_of(c)
                ),
            )
            assert len(asked) == 1

            # The first replica dies (leader or not): the moved clock still nudges, once.
            a.kill()
            second = slack.wait_for(
                "chat.postMessage",
                timeout=30,
                count=2,
                predicate=lambda c: (
                    c.params.get("channel") == dm(BOB)
                    and "Ticket summarizer" in text_of(c)
                    and TIMEBOX_UP in text_of(c)
                ),
            )[1]
            with ServeProcess(bot_env, tmp_path, "a2") as again:
                urls = (again.url, b.url)
                # Stop from the new nudge, submitted to both: one stop, announced once.
                trigger = click(again.url, slack, second, "Stop", BOB)
                view = opened(slack, trigger)
                _both(urls, _modal_body(view, BOB, "the vendor API was withdrawn"))
                [stop] = rows(store.engine, ProjectStop)
                assert (stop.project_id, stop.by) == ("ticket-summarizer", "bob")
                slack.wait_for(
                    "chat.postMessage",
                    predicate=lambda c: (
                        c.params.get("channel") == "C0MLTEAM"
                        and "Ticket summarizer was stopped" in text_of(c)
                    ),
                )
                time.sleep(4)  # more sweeps on both replicas: nothing more may be sent
                announced = [
                    c
                    for c in slack.calls("chat.postMessage")
                    if c.params.get("channel") == "C0MLTEAM"
                    and "Ticket summarizer was stopped" in text_of(c)
                ]
                assert len(announced) == 1
                assert len(nudges_to(slack, BOB)) == 2 and len(nudges_to(slack, ALICE)) == 1
                assert len(rows(store.engine, StageExtension)) == 1
                assert len(rows(store.engine, GateRequest)) == 1
                erin = [
                    c
                    for c in slack.calls("chat.postMessage")
                    if c.params.get("channel") == dm("U0ERIN") and "gate #1" in text_of(c)
                ]
                assert len(erin) == 1
                assert "Traceback" not in again.log() + b.log()
    finally:
        a.kill()
        store.close()
        drop_postgres_database(name)
