"""Stage gates through Slack, end to end: `/gate`, the approvers' buttons and the modals.

The app runs as `launchops serve` would, over the example organisation: Alice (U0ALICE) owns
the Support assistant, in `pilot`; its production gate needs legal (Dan, all), security
(Erin, all), CS (Frank, 1) and business (Grace, 1). Bob (U0BOB) owns the Ticket summarizer
(`poc`; its pilot gate asks business and security) and approves nothing. Requests are signed
as Slack signs them; what the bot sends is read back from FakeSlackAPI, which checks every
call, message and modal against Slack's spec (`assert_valid()` at the end of each test).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.harness import RunningApp, running_app, slack_settings
from tests.e2e.slack_ack import ack_answer
from tests.e2e.test_slack_incidents_e2e import buttons, dm, drained, post_signed, to
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall
from tests.fakes.slack_requests import (
    block_actions_body,
    retry_headers,
    slash_command_body,
    view_submission_body,
)
from tests.services.gate_support import audit_actions, decisions, requests, stage_of

pytestmark = pytest.mark.e2e

APPROVERS = ("U0DAN", "U0ERIN", "U0FRANK", "U0GRACE")
LABELS = ["Approve", "Reject", "Comment"]


@pytest.fixture
def app(sqlite_url: str, slack: FakeSlackAPI) -> Iterator[RunningApp]:
    with running_app(slack_settings(sqlite_url, slack.url)) as running:
        yield running


def gate(app: RunningApp, slack: FakeSlackAPI, text: str, user: str = "U0ALICE") -> str:
    """`/gate <text>` typed by `user`; the answer in its ack body."""
    body = slash_command_body("/gate", text, user, "C0GENERAL", slack.response_url("gate"))
    return str(ack_answer(post_signed(app, body)).params["text"])


def ask_dms(slack: FakeSlackAPI, ref: str = "gate #1") -> dict[str, RecordedCall]:
    """The approval request each approver got by DM, by Slack user id."""
    found = {}
    for user in APPROVERS:
        [message] = slack.wait_for(
            "chat.postMessage",
            predicate=lambda c, u=user: to(dm(u))(c) and ref in c.params["text"],
        )
        found[user] = message
    return found


def click(
    app: RunningApp,
    slack: FakeSlackAPI,
    message: RecordedCall,
    label: str,
    user: str,
    *,
    value: str | None = None,
    trigger_id: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> bytes:
    """`user` clicks `label` on `message` (a forged `value` instead of the button's); the
    signed body, for sending again as a retry."""
    button = buttons(message)[label]
    body = body or block_actions_body(
        button["action_id"],
        value if value is not None else button["value"],
        user,
        str(message.params["channel"]),
        "1700000000.000100",
        slack.response_url(f"{user}-{label}"),
        trigger_id=trigger_id,
        button_text=label,
    )
    response = post_signed(app, body, extra=headers)
    assert response.status_code == 200, response.text
    return body


def private_answers(slack: FakeSlackAPI) -> list[str]:
    return [str(c.params.get("text", "")) for c in slack.calls("response_url")]


def submit(
    app: RunningApp, view: dict[str, Any], text: str, user: str, view_id: str = "V0GATE"
) -> httpx.Response:
    body = view_submission_body(
        view["callback_id"],
        {"gate_text": {"gate_text_input": {"type": "plain_text_input", "value": text}}},
        user,
        private_metadata=view["private_metadata"],
        view_id=view_id,
    )
    response = post_signed(app, body)
    assert response.status_code == 200, response.text
    return response


def opened_view(slack: FakeSlackAPI, trigger_id: str) -> dict[str, Any]:
    [opened] = slack.wait_for(
        "views.open", predicate=lambda c: c.params["trigger_id"] == trigger_id
    )
    view = opened.json_param("view")
    assert isinstance(view, dict)
    return view


def test_production_gate_from_slash_command_to_production(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    """The issue's Slack story: `/gate request`, a DM with working buttons to each approver,
    a non-approver's click refused with nothing recorded, every group's approval moving the
    project to production with an announcement, and `/gate status` telling the history."""
    answer = gate(app, slack, "request support-assistant production")
    assert "Requested gate #1" in answer and "Dan Rivera" in answer
    asks = ask_dms(slack)
    for message in asks.values():
        assert list(buttons(message)) == LABELS
        assert {b["value"] for b in buttons(message).values()} == {"1:1"}

    click(app, slack, asks["U0DAN"], "Approve", "U0BOB")  # a forwarded message, say
    slack.wait_for("response_url", predicate=lambda c: "Only the members" in c.params["text"])
    assert decisions(app.ctx.engine) == []

    for user in APPROVERS:
        click(app, slack, asks[user], "Approve", user)
    assert [d.person_id for d in decisions(app.ctx.engine)] == ["dan", "erin", "frank", "grace"]
    assert stage_of(app.ctx.engine, "support-assistant") == "production"
    slack.wait_for(
        "response_url",
        predicate=lambda c: "Support assistant is now in Production" in c.params["text"],
    )
    assert sum("You approved gate #1" in text for text in private_answers(slack)) >= 3
    [announced] = slack.wait_for(
        "chat.postMessage", predicate=lambda c: "moved to Production" in c.params["text"]
    )
    assert announced.params["channel"] == "C0MLTEAM"  # Alice's team: the summary card's channel

    status = gate(app, slack, "status support-assistant", user="U0BOB")
    assert status.splitlines()[0] == "stage: production"
    assert "pilot → production" in status and "Grace Hopper approved on evidence v1" in status
    drained(app)
    assert audit_actions(app.ctx.engine).count("gate.decided") == 4


def test_reject_asks_a_reason_in_a_modal_and_closes_the_gate(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    gate(app, slack, "request support-assistant production")
    asks = ask_dms(slack)
    click(app, slack, asks["U0ERIN"], "Reject", "U0ERIN", trigger_id="1700000000.1.reject")
    view = opened_view(slack, "1700000000.1.reject")
    assert view["callback_id"] == "gate_reject_form"
    assert [b.get("block_id") for b in view["blocks"]][-1] == "gate_text"
    assert view["blocks"][-1]["element"]["max_length"] == 2000

    click(app, slack, asks["U0ERIN"], "Reject", "U0BOB", trigger_id="1700000000.1.bob")
    slack.wait_for("response_url", predicate=lambda c: "Only the members" in c.params["text"])
    assert [c.params["trigger_id"] for c in slack.calls("views.open")] == ["1700000000.1.reject"]

    empty = submit(app, view, "   ", "U0ERIN").json()
    assert empty["response_action"] == "errors"
    assert "needs one" in empty["errors"]["gate_text"]
    outsider = submit(app, view, "not mine to reject", "U0BOB", view_id="V0BOB").json()
    assert "Only the members" in outsider["errors"]["gate_text"]
    assert decisions(app.ctx.engine) == [] and requests(app.ctx.engine)[0].status == "open"

    closed = submit(app, view, "the rollback plan is missing", "U0ERIN")
    assert closed.content in (b"", b"{}")  # no response_action: the modal closes
    [request] = requests(app.ctx.engine)
    assert request.status == "rejected"
    [decision] = decisions(app.ctx.engine)
    assert (decision.person_id, decision.reason) == ("erin", "the rollback plan is missing")
    slack.wait_for("response_url", predicate=lambda c: "You rejected gate #1" in c.params["text"])
    slack.wait_for(
        "chat.postMessage",
        predicate=lambda c: (
            "rejected by Erin Walsh: the rollback plan is missing" in c.params["text"]
        ),
    )
    assert stage_of(app.ctx.engine, "support-assistant") == "pilot"
    late = click(app, slack, asks["U0DAN"], "Approve", "U0DAN")
    assert late
    slack.wait_for("response_url", predicate=lambda c: "already closed" in c.params["text"])
    assert len(decisions(app.ctx.engine)) == 1
    status = gate(app, slack, "status support-assistant")
    assert status.startswith("stage: pilot") and "the rollback plan is missing" in status


def test_double_click_and_slack_retry_record_one_decision(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    gate(app, slack, "request support-assistant production")
    asks = ask_dms(slack)
    click(app, slack, asks["U0DAN"], "Approve", "U0DAN")
    click(app, slack, asks["U0DAN"], "Approve", "U0DAN")  # a second click, its own trigger
    body = click(app, slack, asks["U0GRACE"], "Approve", "U0GRACE")
    click(app, slack, asks["U0GRACE"], "Approve", "U0GRACE", body=body, headers=retry_headers(1))
    assert [d.person_id for d in decisions(app.ctx.engine)] == ["dan", "grace"]
    slack.wait_for("response_url", 2, predicate=lambda c: "counts once" in c.params["text"])
    assert audit_actions(app.ctx.engine).count("gate.decided") == 2

    reject = click(app, slack, asks["U0ERIN"], "Reject", "U0ERIN", trigger_id="1700000000.3.r")
    click(app, slack, asks["U0ERIN"], "Reject", "U0ERIN", body=reject, headers=retry_headers(1))
    view = opened_view(slack, "1700000000.3.r")  # one modal for the click and its retry
    assert len(slack.calls("views.open")) == 1
    for _ in range(2):  # Reject pressed twice in the modal
        submit(app, view, "no rollback plan", "U0ERIN", view_id="V0TWICE")
    assert [d.verdict for d in decisions(app.ctx.engine)] == ["approve", "approve", "reject"]
    assert [r.status for r in requests(app.ctx.engine)] == ["rejected"]


@pytest.mark.parametrize(
    ("value", "clicker", "expected"),
    [
        ("garbage", "U0DAN", "not one I sent"),
        ("1:x", "U0DAN", "not one I sent"),
        ("1", "U0DAN", "not one I sent"),
        ("99:1", "U0DAN", "There is no gate request #99"),
        ("2:1", "U0DAN", "Only the members of #2"),  # Bob's gate: Dan approves none of it
        ("1:9", "U0DAN", "evidence version 9"),
    ],
)
def test_forged_button_values_are_refused_without_a_change(
    app: RunningApp, slack: FakeSlackAPI, value: str, clicker: str, expected: str
) -> None:
    gate(app, slack, "request support-assistant production")
    assert "Requested gate #2" in gate(app, slack, "request ticket-summarizer pilot", user="U0BOB")
    asks = ask_dms(slack)
    for label in LABELS:
        click(app, slack, asks["U0DAN"], label, clicker, value=value)
    # Dan may comment on #1, and a comment names no version: only "1:9" opens its modal.
    opens_comment = value == "1:9"
    answers = slack.wait_for("response_url", 2 if opens_comment else 3)
    assert sum(expected in c.params["text"] for c in answers) >= 2, private_answers(slack)
    if opens_comment:  # views.open is made after the ack
        slack.wait_for("views.open")
    assert len(slack.calls("views.open")) == (1 if opens_comment else 0)
    assert decisions(app.ctx.engine) == []
    assert [r.status for r in requests(app.ctx.engine)] == ["open", "open"]


def test_comment_modal_records_a_masked_comment(app: RunningApp, slack: FakeSlackAPI) -> None:
    gate(app, slack, "request support-assistant production")
    asks = ask_dms(slack)
    click(app, slack, asks["U0FRANK"], "Comment", "U0FRANK", trigger_id="1700000000.2.comment")
    view = opened_view(slack, "1700000000.2.comment")
    assert view["callback_id"] == "gate_comment_form"
    assert submit(app, view, "", "U0FRANK").json()["response_action"] == "errors"
    done = submit(app, view, "CS is ready; escalations to 010-1234-5678", "U0FRANK")
    assert done.content in (b"", b"{}")
    submit(app, view, "CS is ready; escalations to 010-1234-5678", "U0FRANK")  # double submit
    slack.wait_for("response_url", predicate=lambda c: "comment on gate #1" in c.params["text"])
    assert audit_actions(app.ctx.engine).count("gate.commented") == 1
    assert decisions(app.ctx.engine) == []
    comments = app.ctx.gates.comments(1) if app.ctx.gates else []
    assert comments == [("Frank Osei", "CS is ready; escalations to [phone]")]
    attested = gate(app, slack, "attest 1 rollback yes https://wiki.example/rollback")
    assert "Recorded for gate #1: ✅ A rollback procedure" in attested
    assert "Only the owner" in gate(app, slack, "attest 1 rollback no", user="U0FRANK")
    typed = gate(app, slack, "comment 1 the FAQ is updated", user="U0ALICE")
    assert "comment on gate #1 is recorded" in typed
    assert json.dumps(private_answers(slack)).count("comment on gate #1") == 1
    status = gate(app, slack, "status support-assistant", user="U0BOB")
    assert "Frank Osei: CS is ready; escalations to [phone]" in status
    assert "Alice Kim: the FAQ is updated" in status
