"""Teams stage gates end to end: requested in a message, decided with Action.Execute buttons.

The real app runs with Teams as its only chat platform and the example organisation; the wire
helpers and the loopback Bot Connector (which validates every card against the Adaptive Card
1.5 schema) are the incident tests'. In the example policy a production gate needs legal (Dan,
all), security (Erin, all), customer support (Frank or Mia, one) and business (Grace, one);
Alice owns the Support assistant (in pilot), and her first team is the ML team, whose channel
gets the summary card. Henry decides for nobody.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from launchops.services.gates import GateStatus
from tests.e2e.harness import RunningApp, make_settings, running_app
from tests.e2e.test_teams_incidents_e2e import (
    ALICE,
    HENRY,
    execute,
    facts,
    first_message,
    message,
    outbox_kinds,
    personal_chat,
    plain,
    post,
    reply_to,
    summary,
    texts,
)
from tests.fakes.cards import ADAPTIVE_CARD_CONTENT_TYPE, validate_adaptive_card
from tests.fakes.teams_connector import FakeBotConnector, RecordedActivity

pytestmark = pytest.mark.e2e

DAN = {"id": "29:1dan", "name": "Dan Rivera", "aadObjectId": "aad-dan"}
ERIN = {"id": "29:1erin", "name": "Erin Walsh", "aadObjectId": "aad-erin"}
FRANK = {"id": "29:1frank", "name": "Frank Osei", "aadObjectId": "aad-frank"}
GRACE = {"id": "29:1grace", "name": "Grace Hopper", "aadObjectId": "aad-grace"}
ML_CHANNEL = "19:ml@thread.tacv2"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
PROJECT = "support-assistant"


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        yield fake
        fake.assert_valid()


@pytest.fixture
def app(sqlite_url: str, tmp_path: Path, connector: FakeBotConnector) -> Iterator[RunningApp]:
    settings = make_settings(
        sqlite_url,
        LAUNCHOPS_TEAMS_SERVICE_URL=connector.url,
        LAUNCHOPS_TEAMS_ANONYMOUS="true",
        LAUNCHOPS_CHAT_PLATFORMS="teams",
    )
    with running_app(settings) as running:
        yield running


# helpers -----------------------------------------------------------------------------------------
def say(app: RunningApp, connector: FakeBotConnector, text: str, user: dict[str, str]) -> str:
    """`text` in `user`'s personal chat; what the bot answered, as the reader sees it."""
    activity = message(connector, text, user=user)
    assert post(app, activity).status_code == 200
    reply = reply_to(connector, activity)
    return "\n".join(texts(card) for card in reply.cards) or summary(reply)


def request_gate(app: RunningApp, connector: FakeBotConnector) -> int:
    answer = say(app, connector, f"gate request {PROJECT} production", ALICE)
    assert "Requested gate #1: Support assistant → Production." in answer
    return 1


def dm(connector: FakeBotConnector, user: dict[str, str]) -> RecordedActivity:
    """The approval request the bot sent `user` in the personal chat it opened."""
    return first_message(connector, personal_chat(connector, user))


def in_ml_channel(record: RecordedActivity) -> bool:
    """A new post (thread) in the ML team's channel."""
    channel = ((record.body or {}).get("channelData") or {}).get("channel") or {}
    return record.route == "create_conversation" and channel.get("id") == ML_CHANNEL


def summary_post(connector: FakeBotConnector) -> RecordedActivity:
    [posted] = connector.wait_for(1, predicate=lambda r: in_ml_channel(r) and bool(r.cards))
    return posted


def announced(connector: FakeBotConnector, says: str) -> None:
    connector.wait_for(1, predicate=lambda r: in_ml_channel(r) and says in plain(r.text))


def buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {action["title"]: action for action in card.get("actions") or []}


def press(
    app: RunningApp,
    connector: FakeBotConnector,
    user: dict[str, str],
    card_message: RecordedActivity,
    label: str,
    typed: dict[str, str] | None = None,
    *,
    value: str | None = None,
) -> dict[str, Any]:
    """Press `label` on the card (a Reject or Comment opens its text box: its own button
    sends what was typed); `value` forges the button's value. The invoke response body."""
    [card] = card_message.cards
    action = buttons(card)[label]
    if action["type"] == "Action.ShowCard":
        [action] = action["card"]["actions"]
    assert action["type"] == "Action.Execute"
    data = dict(action["data"]) | (typed or {})
    if value is not None:
        data["value"] = value
    response = post(app, execute(connector, user, card_message, action["verb"], data))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["statusCode"] == 200
    if body["type"] == ADAPTIVE_CARD_CONTENT_TYPE:
        assert validate_adaptive_card(body["value"]) == []
    return body


def status(app: RunningApp) -> GateStatus:
    assert app.ctx.gates is not None
    return app.ctx.gates.status(PROJECT)


def decisions(app: RunningApp) -> list[tuple[str, str]]:
    gate = status(app).open or status(app).past[0]
    return [(d.person, d.verdict) for d in gate.decisions]


def fact_text(card: dict[str, Any]) -> str:
    return plain("\n".join(facts(card).values()))


def edited_summary(connector: FakeBotConnector, posted: RecordedActivity, says: str) -> None:
    connector.wait_for(
        1,
        route="update_activity",
        predicate=lambda r: r.activity_id == posted.response_id and says in fact_text(r.cards[0]),
    )


# the tests ---------------------------------------------------------------------------------------
def test_approvers_get_cards_whose_buttons_work_until_the_project_is_in_production(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    request_gate(app, connector)
    posted = summary_post(connector)
    assert "waiting for Dan Rivera" in fact_text(posted.cards[0])

    cards = {person["name"]: dm(connector, person) for person in (DAN, ERIN, FRANK, GRACE)}
    for record in cards.values():
        [card] = record.cards
        assert "asks you to approve Support assistant moving to Production" in texts(card)
        assert list(buttons(card)) == ["Approve", "Reject", "Comment"]
        approve, reject, comment = card["actions"]
        assert (approve["type"], approve["verb"], approve["data"]) == (
            "Action.Execute",
            "gate_approve",
            {"action": "gate_approve", "value": "1:1"},
        )
        for opener, verb, box in (
            (reject, "gate_reject", "reason"),
            (comment, "gate_comment", "comment"),
        ):
            assert opener["type"] == "Action.ShowCard"
            [field] = opener["card"]["body"]
            assert (field["type"], field["id"], field["isRequired"]) == ("Input.Text", box, True)
            [send] = opener["card"]["actions"]
            assert (send["type"], send["verb"], send["data"]["value"]) == (
                "Action.Execute",
                verb,
                "1:1",
            )

    body = press(app, connector, DAN, cards["Dan Rivera"], "Approve")
    assert body["type"] == ADAPTIVE_CARD_CONTENT_TYPE
    refreshed = body["value"]
    assert "You approved gate #1." in texts(refreshed)
    shown = facts(refreshed)
    assert plain(shown["legal"]) == "1 of 1 approved (Dan Rivera)"
    assert "waiting for Erin Walsh" in plain(shown["security"])
    assert buttons(refreshed) == {}  # decided: nothing left to press on this card
    edited_summary(connector, posted, "1 of 1 approved (Dan Rivera)")

    for person in (ERIN, FRANK):
        press(app, connector, person, cards[person["name"]], "Approve")
    assert status(app).stage == "pilot"
    last = press(app, connector, GRACE, cards["Grace Hopper"], "Approve")
    assert "Support assistant is now in Production." in texts(last["value"])
    assert plain(facts(last["value"])["Status"]) == "Passed"
    assert status(app).stage == "production"

    announced(connector, "Support assistant moved to Production: gate #1 was approved by every")
    history = say(app, connector, f"gate status {PROJECT}", ALICE)
    assert history.splitlines()[1] == "stage: production"
    assert "gate #1: pilot → production, Passed" in history
    for name in ("Dan Rivera", "Erin Walsh", "Frank Osei", "Grace Hopper"):
        assert f"{name} approved on evidence v1" in history


def test_a_non_approver_pressing_approve_is_refused_and_nothing_changes(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    request_gate(app, connector)
    card = dm(connector, DAN)
    body = press(app, connector, HENRY, card, "Approve")
    assert body["type"] == MESSAGE_TYPE
    assert body["value"] == (
        "Only the members of #1's stakeholder groups (legal, security, cs, business) can decide it."
    )
    assert decisions(app) == []
    assert "update" not in outbox_kinds(app)  # no card was edited


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("approve everything", "That button is not one I sent (or it was altered)"),
        ("1", "That button is not one I sent (or it was altered)"),
        ("1:1:1", "That button is not one I sent (or it was altered)"),
        ("2:1", "There is no gate request #2."),
        ("1:7", "That decision names evidence version 7, but #1 is at version 1."),
    ],
)
def test_forged_button_values_are_refused_and_nothing_changes(
    app: RunningApp, connector: FakeBotConnector, value: str, says: str
) -> None:
    request_gate(app, connector)
    body = press(app, connector, DAN, dm(connector, DAN), "Approve", value=value)
    assert body["type"] == MESSAGE_TYPE
    assert says in body["value"]
    assert decisions(app) == []


def test_a_rejection_needs_its_reason_and_then_closes_the_gate(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    request_gate(app, connector)
    posted = summary_post(connector)
    card = dm(connector, ERIN)

    empty = press(app, connector, ERIN, card, "Reject", {"reason": "   "})
    assert empty["type"] == ADAPTIVE_CARD_CONTENT_TYPE
    again = empty["value"]
    assert "A rejection needs a reason: say what is missing or wrong." in texts(again)
    [box] = [b for b in again["body"] if b["type"] == "Input.Text"]
    assert (box["id"], box["isRequired"]) == ("reason", True)
    [send] = again["actions"]
    assert (send["verb"], send["data"]["value"]) == ("gate_reject", "1:1")
    assert decisions(app) == [] and status(app).open is not None

    reason = "the rollback plan is missing"
    body = press(app, connector, ERIN, card, "Reject", {"reason": reason})
    closed = body["value"]
    assert "You rejected gate #1; the gate is closed." in texts(closed)
    assert plain(facts(closed)["Status"]) == "Rejected"
    assert plain(facts(closed)["Rejected by"]) == f"Erin Walsh: {reason}"
    assert status(app).open is None and status(app).stage == "pilot"
    edited_summary(connector, posted, f"Erin Walsh: {reason}")
    announced(connector, f"(Support assistant → Production) was rejected by Erin Walsh: {reason}")

    late = press(app, connector, GRACE, dm(connector, GRACE), "Approve")
    assert late == {"statusCode": 200, "type": MESSAGE_TYPE, "value": late["value"]}
    assert "#1 is already closed (rejected)." in late["value"]
    history = say(app, connector, f"gate status {PROJECT}", ALICE)
    assert history.splitlines()[1] == "stage: pilot"
    assert f"Erin Walsh rejected on evidence v1: {reason}" in history


def test_a_repeated_invoke_and_a_double_click_record_one_decision(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    request_gate(app, connector)
    card = dm(connector, DAN)
    [rendered] = card.cards
    approve = buttons(rendered)["Approve"]
    invoke = execute(connector, DAN, card, approve["verb"], approve["data"])
    first = post(app, invoke).json()
    retried = post(app, invoke).json()  # Teams sent the same invoke again
    assert "You approved gate #1." in texts(first["value"])
    assert "Your decision on gate #1 was already recorded (approved)" in texts(retried["value"])
    clicked_again = press(app, connector, DAN, card, "Approve")  # a new invoke: a double click
    assert "already recorded" in texts(clicked_again["value"])
    assert decisions(app) == [("Dan Rivera", "approve")]


def test_a_comment_from_the_card_needs_text_and_is_recorded_once(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    request_gate(app, connector)
    card = dm(connector, FRANK)
    empty = press(app, connector, FRANK, card, "Comment", {"comment": ""})
    assert "Write the comment first." in texts(empty["value"])
    [box] = [b for b in empty["value"]["body"] if b["type"] == "Input.Text"]
    assert (box["id"], box["isRequired"]) == ("comment", True)

    words = {"comment": "the dashboard link is in the wiki"}
    [send] = buttons(card.cards[0])["Comment"]["card"]["actions"]
    invoke = execute(connector, FRANK, card, send["verb"], send["data"] | words)
    for _ in range(2):  # Teams sent the invoke again
        body = post(app, invoke).json()
        assert body == {
            "statusCode": 200,
            "type": MESSAGE_TYPE,
            "value": "Your comment on gate #1 is recorded.",
        }
    press(app, connector, FRANK, card, "Comment", words)  # a double click
    assert app.ctx.gates is not None
    assert app.ctx.gates.comments(1) == [("Frank Osei", "the dashboard link is in the wiki")]

    refused = press(app, connector, HENRY, card, "Comment", {"comment": "me too"})
    assert "Only the requester of #1, its project's owner or its approvers" in refused["value"]
    assert decisions(app) == []


def test_a_korean_approver_gets_the_buttons_and_text_boxes_in_korean(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    request_gate(app, connector)
    mia = {"id": "29:1mia", "name": "이미아", "aadObjectId": "aad-mia"}
    card = dm(connector, mia)
    [rendered] = card.cards
    assert list(buttons(rendered)) == ["승인", "반려", "의견"]
    reject = buttons(rendered)["반려"]["card"]
    assert reject["body"][0]["label"] == "반려 사유"
    assert [a["title"] for a in reject["actions"]] == ["반려"]
    empty = press(app, connector, mia, card, "반려", {"reason": " "})
    assert "반려에는 사유가 필요합니다." in texts(empty["value"])
    assert decisions(app) == []


def test_after_a_p1_the_old_card_approves_on_the_new_evidence(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    """A P1 on one of the project's components makes Dan's approval stale; he is sent a new
    card, and a click on either card counts on the evidence in force."""
    request_gate(app, connector)
    first = dm(connector, DAN)
    press(app, connector, DAN, first, "Approve")
    activity = message(connector, "incident p1 retriever: empty answers", in_channel=True)
    assert post(app, activity).status_code == 200
    [changed] = connector.wait_for(
        1,
        predicate=lambda r: (
            r.conversation_id == first.conversation_id
            and r.route == "send_to_conversation"
            and "The evidence for gate #1" in summary(r)
        ),
    )
    assert buttons(changed.cards[0])["Approve"]["data"]["value"] == "1:2"
    stale = status(app).open
    assert stale is not None and stale.stale == ("Dan Rivera",)

    again = press(app, connector, DAN, first, "Approve")  # the old card, value 1:1
    assert "You approved gate #1." in texts(again["value"])
    assert plain(facts(again["value"])["legal"]) == "1 of 1 approved (Dan Rivera)"
    gate = status(app).open
    assert gate is not None and gate.stale == ()
    assert [(d.person, d.evidence_version) for d in gate.decisions] == [
        ("Dan Rivera", 1),
        ("Dan Rivera", 2),
    ]
