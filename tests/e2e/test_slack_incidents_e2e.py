"""Incidents through Slack, end to end: signed requests in, Web API calls to a loopback fake.

The app runs as `launchops serve` would (real store, dispatcher and escalation sweep), with
the example organisation and acknowledge deadlines of seconds (`fast_config`). Requests are
signed with the signing secret exactly as Slack signs them; what the bot sends is read back
from FakeSlackAPI, which checks every call against Slack's OpenAPI spec and round-trips every
Block Kit payload (messages and modals) through slack_sdk, so `assert_valid()` at the end of
each test fails on any call Slack would refuse.

In the example catalog the Retriever (alias `rag`) is the Data team's (channel C0DATA, on
call Chris U0CHRIS) and Carol (U0CAROL) is Accountable for it. A P1 pages the Responsible
team (its channel and a DM to each on-call person) and escalates to the Accountable person.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import fast_config
from tests.e2e.harness import RunningApp, make_settings, running_app
from tests.e2e.slack_ack import ack_answer
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall
from tests.fakes.slack_requests import (
    API_APP_ID,
    FORM,
    JSON,
    TEAM_DOMAIN,
    TEAM_ID,
    app_mention_event,
    block_actions_body,
    event_callback_body,
    retry_headers,
    sign,
    slash_command_body,
    view_submission_body,
)

pytestmark = pytest.mark.e2e

SECRET = "test-signing-secret"
BUTTONS = ["Acknowledge", "Escalate", "Resolve", "Change severity"]
LONG_DEADLINE = 3600  # seconds: for tests that must not see an escalation meanwhile
WAIT = 15.0  # generous upper bound for anything the scheduler or the retries deliver


# -- the app and the fake ------------------------------------------------------------------


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake
        fake.assert_valid()


def start(
    db: str, slack: FakeSlackAPI, tmp_path: Path, ack_seconds: int = 2, policy_extra: str = ""
) -> AbstractContextManager[RunningApp]:
    """The app over the example organisation with `ack_seconds` deadlines (`policy_extra`
    is appended to policy.yaml)."""
    config = fast_config(tmp_path, ack_seconds)
    if policy_extra:
        policy = config / "policy.yaml"
        policy.write_text(policy.read_text() + "\n" + policy_extra + "\n")
    settings = make_settings(
        db,
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.url,
        LAUNCHOPS_CONFIG_DIR=str(config),
    )
    return running_app(settings)


@pytest.fixture
def app(sqlite_url: str, slack: FakeSlackAPI, tmp_path: Path) -> Iterator[RunningApp]:
    """The app with 2-second acknowledge deadlines: unacknowledged incidents escalate."""
    with start(sqlite_url, slack, tmp_path) as running:
        yield running


@pytest.fixture
def calm_app(sqlite_url: str, slack: FakeSlackAPI, tmp_path: Path) -> Iterator[RunningApp]:
    """The app with hour-long deadlines, for tests that count messages: nothing escalates."""
    with start(sqlite_url, slack, tmp_path, LONG_DEADLINE) as running:
        yield running


@pytest.fixture
def calm_app_any_db(db_url: str, slack: FakeSlackAPI, tmp_path: Path) -> Iterator[RunningApp]:
    """`calm_app` on SQLite and on PostgreSQL, for the de-duplication tests."""
    with start(db_url, slack, tmp_path, LONG_DEADLINE) as running:
        yield running


# -- requests as Slack sends them ----------------------------------------------------------


def post_signed(
    app: RunningApp, body: bytes, content_type: str = FORM, extra: dict[str, str] | None = None
) -> httpx.Response:
    headers = sign(SECRET, body, content_type=content_type)
    headers.update(extra or {})
    with app.client() as client:
        return client.post("/slack/events", content=body, headers=headers)


def incident_command(
    app: RunningApp,
    slack: FakeSlackAPI,
    text: str,
    *,
    user: str = "U0ALICE",
    channel: str = "C0GENERAL",
    key: str = "declare",
    trigger_id: str | None = None,
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    """`/incident <text>` typed by `user` in `channel`, as Slack posts it."""
    body = slash_command_body(
        "/incident", text, user, channel, slack.response_url(key), trigger_id=trigger_id
    )
    response = post_signed(app, body, extra=extra)
    assert response.status_code == 200, response.text
    return response


def click(
    app: RunningApp,
    slack: FakeSlackAPI,
    message: RecordedCall,
    label: str,
    *,
    user: str,
    key: str,
) -> httpx.Response:
    """Click the button labelled `label` on a message the bot posted, as `user`."""
    button = buttons(message)[label]
    body = block_actions_body(
        button["action_id"],
        button["value"],
        user,
        str(message.params["channel"]),
        "1700000000.000100",  # the handler needs no ts: the button's value names the incident
        slack.response_url(key),
        message={"type": "message", "text": message.params.get("text", "")},
        button_text=label,
    )
    response = post_signed(app, body)
    assert response.status_code == 200, response.text
    return response


def block_suggestion_body(action_id: str, block_id: str, value: str, user: str) -> bytes:
    """An `options` request (block_suggestion) from an external_select in a modal."""
    payload = {
        "type": "block_suggestion",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
        "container": {"type": "view", "view_id": "V0FORM"},
        "api_app_id": API_APP_ID,
        "token": "legacy-verification-token",
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {"id": "V0FORM", "type": "modal", "callback_id": "incident_form"},
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


# -- reading what the bot sent -------------------------------------------------------------


def buttons(call: RecordedCall) -> dict[str, dict[str, Any]]:
    """The buttons of a sent message, by label."""
    return {
        element["text"]["text"]: element
        for block in call.json_param("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    }


def everything(call: RecordedCall) -> str:
    return json.dumps(call.params, ensure_ascii=False)


def to(channel: str) -> Callable[[RecordedCall], bool]:
    """A top-level message in `channel` (see `dm` for a DM)."""
    return lambda call: call.params.get("channel") == channel and not call.params.get("thread_ts")


def dm(user: str) -> str:
    return f"D{user}"  # FakeSlackAPI's conversations.open names the DM with U… like this


def posts(slack: FakeSlackAPI, where: Callable[[RecordedCall], bool]) -> list[RecordedCall]:
    return [c for c in slack.calls("chat.postMessage") if where(c)]


def drained(app: RunningApp) -> None:
    assert app.ctx.dispatcher.drain(timeout=WAIT), "the outbox did not empty"


def incidents(app: RunningApp) -> list[Any]:
    return app.ctx.incidents.search()


def button_labels(call: RecordedCall) -> list[str]:
    return list(buttons(call))


# -- declaring, paging, escalating -----------------------------------------------------------


def test_p1_pages_team_channel_and_oncall_then_escalates_to_accountable(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    """The issue's first "Done when" line: card with four buttons in the R team's channel, a
    DM page to its on-call person with the same buttons, and, with nobody acknowledging, a
    page to the Accountable person once the 2-second deadline has passed."""
    acked = incident_command(app, slack, "p1 retriever: empty answers")
    # Committed before Slack got its 200 (DESIGN.md §5): a crash after the ack loses nothing.
    assert [(i.severity, i.component_id) for i in incidents(app)] == [("p1", "retriever")]
    [card] = slack.wait_for("chat.postMessage", predicate=to("C0DATA"))
    [page] = slack.wait_for("chat.postMessage", predicate=to(dm("U0CHRIS")))
    assert button_labels(card) == BUTTONS
    assert button_labels(page) == BUTTONS
    assert "INC-1" in card.params["text"] and "empty answers" in card.params["text"]
    assert "You are paged" in page.params["text"]
    assert any(c.params.get("users") == "U0CHRIS" for c in slack.calls("conversations.open"))
    confirmation = ack_answer(acked)  # the confirmation rides in the ack
    assert "Declared INC-1 (P1)" in confirmation.params["text"]
    assert "Chris Novak" in confirmation.params["text"]

    [escalation] = slack.wait_for("chat.postMessage", predicate=to(dm("U0CAROL")), timeout=WAIT)
    assert "INC-1" in escalation.params["text"]
    note = slack.wait_for(
        "chat.postMessage",
        predicate=lambda c: (
            c.params.get("channel") == "C0DATA"
            and "escalated to Carol Jones" in c.params.get("text", "")
        ),
    )
    assert note[0].params.get("thread_ts")  # in the card's thread, not a new post


def test_acknowledge_click_stops_escalation_edits_card_and_notes_the_thread(
    sqlite_url: str, slack: FakeSlackAPI, tmp_path: Path
) -> None:
    """Chris clicks Acknowledge on the page the bot sent him: Carol is never paged for it,
    the channel card is edited in place without its Acknowledge button and the card's thread
    gets one note. A second, unacknowledged incident declared afterwards is the control: its
    escalation reaching Carol proves the sweep ran past the first one's deadline too.
    (3-second deadlines leave the click comfortably inside the first deadline.)"""
    with start(sqlite_url, slack, tmp_path, ack_seconds=3) as app:
        incident_command(app, slack, "p1 retriever: empty answers")
        [page] = slack.wait_for("chat.postMessage", predicate=to(dm("U0CHRIS")))
        click(app, slack, page, "Acknowledge", user="U0CHRIS", key="click")
        assert incidents(app)[0].status == "acknowledged"  # committed before the 200
        [answer] = slack.wait_for(
            "response_url", predicate=lambda c: "acknowledged" in c.params.get("text", "")
        )
        assert "You acknowledged INC-1" in answer.params["text"]
        assert answer.params["response_type"] == "ephemeral"

        [edited] = slack.wait_for(
            "chat.update", predicate=lambda c: c.params["channel"] == "C0DATA"
        )
        assert button_labels(edited) == ["Escalate", "Resolve", "Change severity"]
        assert "Acknowledged" in everything(edited) and "Chris Novak" in everything(edited)
        [note] = slack.wait_for(
            "chat.postMessage",
            predicate=lambda c: c.params.get("text") == "Acknowledged by Chris Novak.",
        )
        assert note.params["channel"] == "C0DATA"
        assert note.params["thread_ts"] == edited.params["ts"]  # the card's own thread
        slack.wait_for("chat.update", predicate=lambda c: c.params["channel"] == dm("U0CHRIS"))

        incident_command(app, slack, "p1 indexing: stale vectors", key="control")
        slack.wait_for(
            "chat.postMessage",
            predicate=lambda c: to(dm("U0CAROL"))(c) and "INC-2" in c.params["text"],
            timeout=WAIT,
        )
        drained(app)
        carol = posts(slack, to(dm("U0CAROL")))
        assert [c for c in carol if "INC-1" in c.params["text"]] == []
        assert [i.status for i in sorted(incidents(app), key=lambda i: i.id)] == [
            "acknowledged",
            "open",
        ]


def test_p0_pages_more_people_than_p1(calm_app: RunningApp, slack: FakeSlackAPI) -> None:
    """P1 pages the Responsible team's on-call person; P0 pages every team's on-call people
    and the Accountable owner (the example policy), each by DM with the buttons in their own
    language."""
    incident_command(calm_app, slack, "p1 rag: empty answers", key="p1")
    incident_command(calm_app, slack, "p0 rag: every answer fails", key="p0")
    drained(calm_app)

    def paged(ref: str) -> set[str]:
        return {
            c.params["channel"]
            for c in slack.calls("chat.postMessage")
            if c.params["channel"].startswith("D") and ref in c.params["text"]
        }

    assert paged("INC-1") == {dm("U0CHRIS")}
    on_call = ["U0BOB", "U0ALICE", "U0IVY", "U0HENRY", "U0CHRIS", "U0KEVIN", "U0DAN", "U0ERIN"]
    assert paged("INC-2") == {dm(u) for u in [*on_call, "U0MIA", "U0CAROL"]}
    assert len(paged("INC-2")) > len(paged("INC-1"))
    # Only the pages: the scheduler's roadmap nudges (the example projects' clocks run in
    # real time) may reach some of the same people's DMs meanwhile.
    pages = [
        c for c in slack.calls("chat.postMessage") if re.search(r"INC-[12]\b", c.params["text"])
    ]
    for page in pages:
        if page.params["channel"] == dm("U0MIA"):  # her catalog locale is Korean
            assert button_labels(page) == ["확인(Ack)", "에스컬레이션", "해결", "심각도 변경"]
        elif page.params["channel"].startswith("D"):
            assert button_labels(page) == BUTTONS


def test_p3_goes_to_the_backlog_and_pages_nobody(calm_app: RunningApp, slack: FakeSlackAPI) -> None:
    """P3 is recorded and confirmed to the declarer, and nothing else is sent at all."""
    confirmation = ack_answer(incident_command(calm_app, slack, "p3 widget: typo in the footer"))
    assert "Declared INC-1 (P3)" in confirmation.params["text"]
    assert "P3 goes to the backlog: nobody is paged." in confirmation.params["text"]
    drained(calm_app)
    assert [(i.severity, i.status) for i in incidents(calm_app)] == [("p3", "open")]
    assert slack.calls("chat.postMessage") == []
    assert slack.calls("conversations.open") == []
    assert slack.calls("response_url") == []


def test_declared_in_a_team_channel_without_a_component_is_that_teams(
    calm_app: RunningApp, slack: FakeSlackAPI
) -> None:
    """`/incident p2 <title>` typed in the Data team's channel needs no component."""
    incident_command(calm_app, slack, "p2 answers are slow", channel="C0DATA")
    slack.wait_for("chat.postMessage", predicate=to(dm("U0CHRIS")))
    [incident] = incidents(calm_app)
    assert (incident.team_id, incident.severity) == ("data", "p2")


def test_mention_declares_with_the_event_as_request_key(
    calm_app: RunningApp, slack: FakeSlackAPI
) -> None:
    """`@LaunchOps incident …` in a channel declares too; the same event redelivered by Slack
    (same event_id, retry headers) declares nothing more."""
    event = app_mention_event("U0BOB", "C0MLTEAM", "incident p1 rag: citations missing")
    body = event_callback_body(event, event_id="EvINCIDENT01")
    assert post_signed(calm_app, body, JSON).status_code == 200
    assert len(incidents(calm_app)) == 1  # committed before Slack got its 200
    assert post_signed(calm_app, body, JSON, extra=retry_headers(1)).status_code == 200
    [confirmation] = slack.wait_for("chat.postEphemeral")
    assert confirmation.params["user"] == "U0BOB" and "Declared INC-1" in everything(confirmation)
    drained(calm_app)
    assert len(incidents(calm_app)) == 1
    assert len(posts(slack, to(dm("U0CHRIS")))) == 1


# -- who may act, and acting twice ---------------------------------------------------------


def test_non_responder_click_is_refused_politely(calm_app: RunningApp, slack: FakeSlackAPI) -> None:
    """Grace is neither paged nor in the Data team nor Accountable: her click on the channel
    card changes nothing and she is told who may act."""
    incident_command(calm_app, slack, "p1 retriever: empty answers")
    [card] = slack.wait_for("chat.postMessage", predicate=to("C0DATA"))
    drained(calm_app)
    before = len(slack.calls())
    click(calm_app, slack, card, "Acknowledge", user="U0GRACE", key="grace")
    [refusal] = slack.wait_for(
        "response_url", predicate=lambda c: "Only the people" in c.params.get("text", "")
    )
    assert refusal.params["text"] == (
        "Only the people paged for INC-1, its Responsible team and its Accountable owner "
        "can do that."
    )
    assert refusal.params["response_type"] == "ephemeral"
    drained(calm_app)
    assert len(slack.calls()) == before + 1  # the refusal, nothing else
    [incident] = incidents(calm_app)
    assert incident.status == "open" and incident.acknowledged_by is None


def test_same_slash_command_delivered_three_times_is_one_incident(
    calm_app_any_db: RunningApp, slack: FakeSlackAPI
) -> None:
    """Slack redelivers a command it got no timely 200 for, with the same trigger_id: one
    incident, one page per person, one card; each delivery's ack carries the answer."""
    answers = []
    for attempt in range(3):
        response = incident_command(
            calm_app_any_db,
            slack,
            "p1 retriever: empty answers",
            trigger_id="1700000000.111.same",
            extra=retry_headers(attempt) if attempt else None,
        )
        answers.append(ack_answer(response).params["text"])
    slack.wait_for("chat.postMessage", predicate=to(dm("U0CHRIS")))
    drained(calm_app_any_db)
    assert len(incidents(calm_app_any_db)) == 1
    assert len(posts(slack, to(dm("U0CHRIS")))) == 1
    assert len(posts(slack, to("C0DATA"))) == 1
    assert "Declared INC-1 (P1)" in answers[0]
    assert all("INC-1" in text for text in answers[1:])
    assert slack.calls("response_url") == []


def test_double_clicked_acknowledge_is_one_acknowledgement(
    calm_app_any_db: RunningApp, slack: FakeSlackAPI
) -> None:
    """Two clicks on the same Acknowledge button, at the same time: one acknowledgement, one
    thread note; the second click is told who acknowledged first."""
    incident_command(calm_app_any_db, slack, "p1 retriever: empty answers")
    [page] = slack.wait_for("chat.postMessage", predicate=to(dm("U0CHRIS")))
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(
            pool.map(
                lambda key: click(
                    calm_app_any_db, slack, page, "Acknowledge", user="U0CHRIS", key=key
                ),
                ["first", "second"],
            )
        )
    answers = slack.wait_for("response_url", count=2)  # both clicks'
    texts = sorted(a.params["text"] for a in answers)
    assert texts == [
        "INC-1 was already acknowledged by Chris Novak.",
        "You acknowledged INC-1; escalation has stopped.",
    ]
    drained(calm_app_any_db)
    notes = posts(slack, lambda c: c.params.get("text") == "Acknowledged by Chris Novak.")
    assert len(notes) == 1


# -- delivery that loses nothing -----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "times"), [(429, 3), (500, 2)], ids=["429-retry-after-x3", "500-x2"]
)
def test_page_arrives_exactly_once_through_rate_limits_and_errors(
    calm_app: RunningApp, slack: FakeSlackAPI, status: int, times: int
) -> None:
    """chat.postMessage answering 429 (Retry-After: 1) or 500 first: the outbox retries and
    the card and the page still arrive, each exactly once."""
    slack.fail_next("chat.postMessage", status, times=times)
    incident_command(calm_app, slack, "p1 retriever: empty answers")
    slack.wait_for("chat.postMessage", predicate=to(dm("U0CHRIS")), timeout=WAIT)
    slack.wait_for("chat.postMessage", predicate=to("C0DATA"), timeout=WAIT)
    drained(calm_app)
    assert len(slack.failures) == times  # the failures really were served
    assert len(posts(slack, to(dm("U0CHRIS")))) == 1
    assert len(posts(slack, to("C0DATA"))) == 1


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p9 rag: x", "“p9” is not a severity. Use p0"),
        ("p1", "Usage: incident <p0|p1|p2|p3>"),
        ("p1 retreiver: x", "Did you mean: Retriever?"),
        ("p1 rag: " + "x" * 201, "Titles are at most 200 characters; this one has 201."),
        ("p1 rag: " + "x" * 5000, "I read at most 4000."),
        ("foo", "Usage: incident <p0|p1|p2|p3>"),
    ],
    ids=[
        "unknown-level",
        "no-title",
        "typo",
        "201-chars",
        "5000-chars",
        "foo",
    ],
)
def test_bad_input_gets_a_short_specific_reply_and_changes_nothing(
    calm_app: RunningApp, slack: FakeSlackAPI, text: str, expected: str
) -> None:
    reply = ack_answer(incident_command(calm_app, slack, text))
    assert expected in html.unescape(reply.params["text"])  # as Slack shows it
    assert len(reply.params["text"]) < 300
    assert reply.params["response_type"] == "ephemeral"
    assert "Traceback" not in everything(reply) and "Error" not in reply.params["text"]
    drained(calm_app)
    assert incidents(calm_app) == []
    assert slack.calls("chat.postMessage") == [] and slack.calls("views.open") == []


def test_channel_markup_in_a_title_never_reaches_slack_unescaped(
    calm_app: RunningApp, slack: FakeSlackAPI
) -> None:
    """A title is the declarer's text: `<!channel>` or `<@U…>` in it must not notify anyone
    in the card, the page, the confirmation or the edits. Every part Slack parses (the
    notification text and mrkdwn) carries it escaped; the header is plain_text, which Slack
    never parses."""
    acked = incident_command(calm_app, slack, "p1 rag: <!channel> <@U0CAROL> answers empty")
    slack.wait_for("chat.postMessage", predicate=to(dm("U0CHRIS")))
    [page] = posts(slack, to(dm("U0CHRIS")))
    click(calm_app, slack, page, "Acknowledge", user="U0CHRIS", key="ack")
    slack.wait_for("chat.update", count=2)
    drained(calm_app)
    [incident] = incidents(calm_app)
    assert incident.title == "<!channel> <@U0CAROL> answers empty"  # stored as typed
    sent = [ack_answer(acked)] + [
        c for c in slack.calls() if c.method in ("chat.postMessage", "chat.update", "response_url")
    ]
    assert len(sent) >= 6
    for call in sent:
        parsed = [call.params.get("text", "")] + [
            element["text"] for element in _mrkdwn(call.json_param("blocks") or [])
        ]
        for text in parsed:
            assert "<!channel>" not in text and "<@U0CAROL>" not in text, call.method
        assert "link_names" not in call.params and "parse" not in call.params
    assert any("&lt;!channel&gt;" in c.params.get("text", "") for c in sent)


def _mrkdwn(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [t for item in node for t in _mrkdwn(item)]
    if isinstance(node, dict):
        found = [node] if node.get("type") == "mrkdwn" else []
        return found + [t for value in node.values() for t in _mrkdwn(value)]
    return []


# -- the form -------------------------------------------------------------------------------


def _form_values(
    level: str | None, component: str | None, title: str, description: str = ""
) -> dict[str, dict[str, dict[str, Any]]]:
    def selected(value: str | None, kind: str) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        return {"type": kind, "selected_option": option if value else None}

    return {
        "severity": {"incident_severity": selected(level, "static_select")},
        "component": {"incident_component": selected(component, "external_select")},
        "title": {"incident_title": {"type": "plain_text_input", "value": title}},
        "description": {"incident_description": {"type": "plain_text_input", "value": description}},
    }


def _opened_view(call: RecordedCall) -> dict[str, Any]:
    view = call.json_param("view")
    assert isinstance(view, dict)
    return view


def test_bare_incident_opens_the_form_which_searches_components_and_declares(
    calm_app: RunningApp, slack: FakeSlackAPI
) -> None:
    """Bare `/incident` → views.open with the command's trigger_id and a modal the fake
    validates; the component picker's options request finds the Retriever by its alias
    `rag`; submitting declares, closes the modal and confirms to the declarer."""
    incident_command(calm_app, slack, "", trigger_id="1700000000.222.form", key="form")
    [opened] = slack.wait_for("views.open")
    assert opened.params["trigger_id"] == "1700000000.222.form"
    view = _opened_view(opened)
    assert view["callback_id"] == "incident_form"
    assert [b["block_id"] for b in view["blocks"]] == [
        "severity",
        "component",
        "title",
        "description",
    ]
    severity = view["blocks"][0]["element"]["options"]
    assert [o["value"] for o in severity] == ["p0", "p1", "p2", "p3"]
    assert severity[0]["text"]["text"] == "P0 — whole service down"
    assert view["blocks"][1]["element"]["type"] == "external_select"
    assert view["blocks"][2]["element"]["max_length"] == 200
    assert view["blocks"][3]["element"]["max_length"] == 3000

    options = post_signed(
        calm_app, block_suggestion_body("incident_component", "component", "rag", "U0ALICE")
    )
    assert options.status_code == 200
    found = options.json()["options"]
    assert found[0] == {
        "text": {"type": "plain_text", "text": "Retriever", "emoji": True},
        "value": "retriever",
    }
    everything_else = post_signed(
        calm_app, block_suggestion_body("incident_component", "component", "", "U0ALICE")
    ).json()["options"]
    assert len(everything_else) == 10  # every component of the example catalog

    submit = view_submission_body(
        "incident_form",
        _form_values("p1", "retriever", "Empty answers", "Since 09:00, every locale"),
        "U0ALICE",
        private_metadata=view["private_metadata"],
        view_id="V0FORM1",
    )
    response = post_signed(calm_app, submit)
    assert response.status_code == 200
    assert response.content in (b"", b"{}")  # no response_action: the modal closes
    assert len(incidents(calm_app)) == 1  # declared before the modal was closed
    slack.wait_for("chat.postMessage", predicate=to(dm("U0CHRIS")))
    [confirmation] = slack.wait_for("response_url")
    assert "Declared INC-1 (P1): Empty answers." in confirmation.params["text"]
    [incident] = incidents(calm_app)
    assert (incident.component_id, incident.description) == (
        "retriever",
        "Since 09:00, every locale",
    )


@pytest.mark.parametrize(
    ("level", "component", "title", "errors"),
    [
        ("p1", None, "Empty answers", {"component": "Choose the affected component."}),
        ("p1", "retriever", "   ", {"title": "Give the incident a short title."}),
        (None, None, "", {"severity", "component", "title"}),
        ("p1", "retired-thing", "x", {"component": "I don't know a component"}),
    ],
    ids=["no-component", "blank-title", "nothing", "unknown-component"],
)
def test_form_errors_come_back_beside_their_fields(
    calm_app: RunningApp,
    slack: FakeSlackAPI,
    level: str | None,
    component: str | None,
    title: str,
    errors: dict[str, str] | set[str],
) -> None:
    """An invalid submission keeps the modal open with `response_action: errors` naming the
    field, and declares nothing."""
    submit = view_submission_body(
        "incident_form", _form_values(level, component, title), "U0ALICE", view_id="V0BAD"
    )
    response = post_signed(calm_app, submit)
    assert response.status_code == 200
    body = response.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == set(errors)
    if isinstance(errors, dict):
        for block, text in errors.items():
            assert text in body["errors"][block]
    drained(calm_app)
    assert incidents(calm_app) == []
    assert [c.method for c in slack.calls() if c.method != "auth.test"] == []


def test_double_submitted_form_is_one_incident(calm_app: RunningApp, slack: FakeSlackAPI) -> None:
    """Declare clicked twice sends the same view twice: one incident, one page, one answer."""
    submit = view_submission_body(
        "incident_form",
        _form_values("p1", "retriever", "Empty answers"),
        "U0ALICE",
        private_metadata=json.dumps({"channel": "C0GENERAL"}),
        view_id="V0TWICE",
    )
    for _ in range(2):
        assert post_signed(calm_app, submit).status_code == 200
    slack.wait_for("chat.postMessage", predicate=to(dm("U0CHRIS")))
    drained(calm_app)
    assert len(incidents(calm_app)) == 1
    assert len(posts(slack, to(dm("U0CHRIS")))) == 1
    [confirmation] = slack.calls("chat.postEphemeral")
    assert confirmation.params["channel"] == "C0GENERAL"
    assert confirmation.params["user"] == "U0ALICE"


def test_declaration_without_component_in_a_teamless_channel_opens_the_form_prefilled(
    calm_app: RunningApp, slack: FakeSlackAPI
) -> None:
    """`/incident p1 empty answers` in #general (no team's channel): nothing is declared yet;
    the form opens with severity and title filled in, asking only for the component."""
    incident_command(calm_app, slack, "p1 empty answers", trigger_id="1700000000.333.prefill")
    [opened] = slack.wait_for("views.open")
    view = _opened_view(opened)
    blocks = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert blocks["severity"]["initial_option"]["value"] == "p1"
    assert blocks["title"]["initial_value"] == "empty answers"
    assert json.loads(view["private_metadata"])["channel"] == "C0GENERAL"
    drained(calm_app)
    assert incidents(calm_app) == []
    assert slack.calls("response_url") == []  # the form is the answer


def test_mention_without_component_offers_a_button_that_opens_the_form(
    calm_app: RunningApp, slack: FakeSlackAPI
) -> None:
    """A mention carries no trigger_id to open a modal with: the answer says what is
    missing and carries a button; clicking it opens the prefilled form."""
    event = app_mention_event("U0BOB", "C0GENERAL", "incident p2 slow answers")
    post_signed(calm_app, event_callback_body(event), JSON)
    [offer] = slack.wait_for("chat.postEphemeral")
    assert "Which component is affected?" in offer.params["text"]
    [button] = buttons(offer).values()
    body = block_actions_body(
        button["action_id"],
        button["value"],
        "U0BOB",
        "C0GENERAL",
        "1700000000.000100",
        slack.response_url("offer"),
        trigger_id="1700000000.444.button",
    )
    assert post_signed(calm_app, body).status_code == 200
    [opened] = slack.wait_for("views.open")
    assert opened.params["trigger_id"] == "1700000000.444.button"
    blocks = {b["block_id"]: b["element"] for b in _opened_view(opened)["blocks"]}
    assert blocks["severity"]["initial_option"]["value"] == "p2"
    assert blocks["title"]["initial_value"] == "slow answers"
    assert incidents(calm_app) == []


# -- P0/P1 get their own channel -------------------------------------------------------------


def test_p1_opens_a_dedicated_channel_and_invites_the_responders(
    sqlite_url: str, slack: FakeSlackAPI, tmp_path: Path
) -> None:
    """With `incidents.dedicated_channel: [p0, p1]` a P1 creates `inc-<number>-<slug>`,
    invites the declarer and the paged people, and posts the card there; whoever is paged
    later (the escalation to Carol) is invited too, and the room's card gets the thread
    notes like the team channel's. A P2 opens no channel."""
    extra = "incidents: {dedicated_channel: [p0, p1], channel_prefix: inc}"
    with start(sqlite_url, slack, tmp_path, policy_extra=extra) as app:
        acked = incident_command(app, slack, "p1 retriever: Empty answers (EU)!")
        [created] = slack.wait_for("conversations.create")
        assert created.params["name"] == "inc-1-empty-answers-eu"
        [invite] = slack.wait_for("conversations.invite")
        room = invite.params["channel"]
        assert room.startswith("C") and room != "C0DATA"
        assert sorted(invite.params["users"].split(",")) == ["U0ALICE", "U0CHRIS"]
        [card] = slack.wait_for("chat.postMessage", predicate=to(room))
        assert button_labels(card) == BUTTONS
        assert "#inc-1-empty-answers-eu" in ack_answer(acked).params["text"]

        [later] = slack.wait_for(
            "conversations.invite",
            predicate=lambda c: c.params["users"] == "U0CAROL",
            timeout=WAIT,
        )
        assert later.params["channel"] == room
        slack.wait_for(
            "chat.postMessage",
            predicate=lambda c: (
                c.params.get("channel") == room
                and bool(c.params.get("thread_ts"))
                and "escalated to Carol Jones" in c.params.get("text", "")
            ),
        )

        incident_command(app, slack, "p2 indexing: slow rebuild", key="p2")
        slack.wait_for("chat.postMessage", predicate=lambda c: "INC-2" in c.params["text"])
        drained(app)
        assert len(slack.calls("conversations.create")) == 1


def test_form_speaks_the_declarers_language(calm_app: RunningApp, slack: FakeSlackAPI) -> None:
    """박민준's catalog locale is Korean: his form, and its validation messages, are too."""
    incident_command(calm_app, slack, "", user="U0MINJUN")
    view = _opened_view(slack.wait_for("views.open")[0])
    assert view["title"]["text"] == "인시던트 선언"
    assert view["blocks"][0]["element"]["options"][1]["text"]["text"] == "P1 — 핵심 기능 고장"
    submit = view_submission_body(
        "incident_form",
        _form_values("p1", None, "검색 결과 없음"),
        "U0MINJUN",
        private_metadata=view["private_metadata"],
    )
    errors = post_signed(calm_app, submit).json()["errors"]
    assert errors == {"component": "문제가 있는 컴포넌트를 고르세요."}


def test_when_slack_refuses_the_form_the_answer_offers_it_again(
    calm_app: RunningApp, slack: FakeSlackAPI
) -> None:
    """An expired trigger (the command took Slack too long to deliver) fails views.open, which
    is made after the ack: the person then gets a private reply on the command's response_url
    with a button that opens the form with a fresh trigger, not silence."""
    slack.set_response("views.open", {"ok": False, "error": "expired_trigger_id"})
    response = incident_command(calm_app, slack, "")
    assert response.status_code == 200 and not response.content  # the ack: nothing to show
    [reply] = slack.wait_for("response_url")
    assert "I couldn't open the incident form" in reply.params["text"]
    assert reply.params.get("response_type") == "ephemeral"
    assert list(buttons(reply)) == ["Open the incident form"]
    assert len(slack.calls("views.open")) == 1


# -- escalations that always reach someone (DESIGN.md §4) ------------------------------------


def test_p0_escalates_to_the_accountable_already_paged_then_to_leadership(
    app: RunningApp, slack: FakeSlackAPI
) -> None:
    """Henry is Accountable for the gateway and on call, so the P0 pages him at once; its
    first escalation step (`accountable`) still reaches him, as an escalation, after the
    first deadline, and `team:leadership` (Grace, Olivia and their channel) after the next."""
    incident_command(app, slack, "p0 gateway: everything is down")

    def escalation_to(user: str) -> Callable[[RecordedCall], bool]:
        return lambda c: to(dm(user))(c) and "still unacknowledged" in c.params.get("text", "")

    [page] = slack.wait_for("chat.postMessage", predicate=to(dm("U0HENRY")))
    assert "You are paged" in page.params["text"]
    [again] = slack.wait_for("chat.postMessage", predicate=escalation_to("U0HENRY"), timeout=WAIT)
    assert again.params["text"].startswith("P0 INC-1 still unacknowledged after 2 s")
    assert button_labels(again) == BUTTONS
    first_step = again.at
    [grace] = slack.wait_for("chat.postMessage", predicate=escalation_to("U0GRACE"), timeout=WAIT)
    assert grace.at - first_step >= 1.5  # a whole deadline later, not with step 1
    slack.wait_for("chat.postMessage", predicate=escalation_to("U0OLIVIA"))
    slack.wait_for("chat.postMessage", predicate=to("C0LEADERS"))
    slack.wait_for(
        "chat.postMessage",
        predicate=lambda c: (
            bool(c.params.get("thread_ts"))
            and "escalated to Olivia Brown, Grace Hopper, Leadership (step 2)"
            in c.params.get("text", "")
        ),
    )
    henry = [c for c in posts(slack, to(dm("U0HENRY"))) if "INC-1" in c.params["text"]]
    assert len(henry) == 2  # the page and one escalation: step 2 is not his


@pytest.mark.parametrize(
    ("error", "words"),
    [("user_not_found", "user not found"), ("account_inactive", "account deactivated")],
)
def test_a_refused_page_is_in_the_thread_and_escalates_at_once(
    sqlite_url: str, slack: FakeSlackAPI, tmp_path: Path, error: str, words: str
) -> None:
    """Slack refuses the DM to Chris, the P1's only pagee, for good: the Data team's thread
    says so by name and reason, the card lists him as not reached, and Carol is paged at
    once, though the deadline is an hour away."""
    slack.refuse_dms("U0CHRIS", error)
    with start(sqlite_url, slack, tmp_path, LONG_DEADLINE) as app:
        acked = incident_command(app, slack, "p1 retriever: empty answers")
        assert "Paging: Chris Novak." in ack_answer(acked).params["text"]
        slack.wait_for(
            "chat.postMessage",
            predicate=lambda c: (
                c.params.get("channel") == "C0DATA"
                and bool(c.params.get("thread_ts"))
                and c.params.get("text") == f"Could not reach Chris Novak: {words}."
            ),
            timeout=WAIT,
        )
        [carol] = slack.wait_for("chat.postMessage", predicate=to(dm("U0CAROL")), timeout=WAIT)
        assert carol.params["text"].startswith("P1 INC-1 still unacknowledged after")
        slack.wait_for(
            "chat.update",
            predicate=lambda c: (
                c.params["channel"] == "C0DATA"
                and f"Chris Novak ({words})" in everything(c)
                and "Carol Jones" in everything(c)
            ),
            timeout=WAIT,
        )
        assert posts(slack, to(dm("U0CHRIS"))) == []
