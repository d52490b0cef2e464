"""Teams incidents end to end: declared, paged, escalated and acknowledged over the wire.

The real app runs with Teams as its only chat platform and the example organisation with
2-second acknowledge deadlines (the escalation sweep runs every second). Activities are the
wire JSON Teams posts to `/api/messages`; everything the bot sends lands on the loopback Bot
Connector, which is both the activities' `serviceUrl` and LAUNCHOPS_TEAMS_SERVICE_URL (where
the bot starts conversations it has no reference for) and which validates every card against
the Adaptive Card 1.5 schema.

In the example catalogue the Retriever is the Data team's (on call: Chris), accountable is
Carol, and Henry (Platform team) has nothing to do with it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from launchops.delivery.outbox import outbox_table
from tests.conftest import fast_config
from tests.e2e.harness import RunningApp, make_settings, running_app
from tests.fakes.cards import ADAPTIVE_CARD_CONTENT_TYPE, validate_adaptive_card
from tests.fakes.teams_connector import FakeBotConnector, RecordedActivity

pytestmark = pytest.mark.e2e

TENANT = "72f988bf-0000-4000-8000-2d7cd011db47"
BOT = {"id": "28:bot", "name": "LaunchOps"}
ALICE = {"id": "29:1alice", "name": "Alice Kim", "aadObjectId": "aad-alice"}
CHRIS = {"id": "29:1chris", "name": "Chris Novak", "aadObjectId": "aad-chris"}
CAROL = {"id": "29:1carol", "name": "Carol Jones", "aadObjectId": "aad-carol"}
HENRY = {"id": "29:1henry", "name": "Henry Ford", "aadObjectId": "aad-henry"}
DATA_CHANNEL = "19:data@thread.tacv2"
BUTTONS = ["Acknowledge", "Escalate", "Resolve", "Change severity"]
# The shared 1.5 schema file predates the `filtered` ChoiceSet style (Teams' typeahead, part of
# Adaptive Cards 1.5), so the form's searchable component list is the one thing it refuses.
FILTERED_GAP = re.compile(r"^\S+ \S+ attachments\[0\]: body/\d+/style: 'filtered' is not valid")
_ids = itertools.count(1_710_000_000_000)
Predicate = Callable[[RecordedActivity], bool]


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        yield fake
        fake.problems[:] = [p for p in fake.problems if not FILTERED_GAP.match(p)]
        fake.assert_valid()


def _app(
    sqlite_url: str, tmp_path: Path, connector: FakeBotConnector, ack: int
) -> AbstractContextManager[RunningApp]:
    settings = make_settings(
        sqlite_url,
        LAUNCHOPS_TEAMS_SERVICE_URL=connector.url,
        LAUNCHOPS_TEAMS_ANONYMOUS="true",
        LAUNCHOPS_CHAT_PLATFORMS="teams",
        LAUNCHOPS_CONFIG_DIR=str(fast_config(tmp_path, ack_seconds=ack)),
    )
    return running_app(settings)


@pytest.fixture
def app(sqlite_url: str, tmp_path: Path, connector: FakeBotConnector) -> Iterator[RunningApp]:
    """The app with 2-second acknowledge deadlines."""
    with _app(sqlite_url, tmp_path, connector, 2) as running:
        yield running


@pytest.fixture
def steady_app(
    sqlite_url: str, tmp_path: Path, connector: FakeBotConnector
) -> Iterator[RunningApp]:
    """Hour-long deadlines, for tests that count what was sent or edited: on a slow machine a
    2-second deadline could pass mid-test and add an escalation's pages and edits."""
    with _app(sqlite_url, tmp_path, connector, 3600) as running:
        yield running


# wire JSON ---------------------------------------------------------------------------------------
def _base(
    connector: FakeBotConnector, user: dict[str, str], conversation: dict[str, Any]
) -> dict[str, Any]:
    channel_data: dict[str, Any] = {"tenant": {"id": TENANT}}
    if conversation.get("conversationType") == "channel":
        channel_data |= {
            "teamsChannelId": DATA_CHANNEL,
            "teamsTeamId": "19:team@thread.tacv2",
            "channel": {"id": DATA_CHANNEL},
            "team": {"id": "19:team@thread.tacv2"},
        }
    return {
        "id": str(next(_ids)),
        "timestamp": "2025-03-03T09:00:00.1234567Z",
        "serviceUrl": connector.url,
        "channelId": "msteams",
        "from": dict(user),
        "conversation": {"tenantId": TENANT, **conversation},
        "recipient": dict(BOT),
        "locale": "en-US",
        "channelData": channel_data,
    }


def personal(user: dict[str, str]) -> dict[str, Any]:
    return {"conversationType": "personal", "id": f"a:1{user['id'][4:]}-personal"}


def channel_thread(root_id: str) -> dict[str, Any]:
    return {
        "conversationType": "channel",
        "isGroup": True,
        "id": f"{DATA_CHANNEL};messageid={root_id}",
    }


def message(
    connector: FakeBotConnector,
    text: str,
    *,
    user: dict[str, str] = ALICE,
    in_channel: bool = False,
) -> dict[str, Any]:
    """A `message` activity: in the user's personal chat, or a new post in the data channel
    mentioning the bot (its conversation id is the channel plus the post's own id)."""
    activity_id = str(next(_ids))
    conversation = channel_thread(activity_id) if in_channel else personal(user)
    activity = _base(connector, user, conversation) | {"type": "message", "id": activity_id}
    activity["textFormat"] = "plain"
    if in_channel:
        activity["text"] = f"<at>LaunchOps</at> {text}"
        activity["entities"] = [
            {"type": "mention", "text": "<at>LaunchOps</at>", "mentioned": dict(BOT)}
        ]
    else:
        activity["text"] = text
    return activity


def execute(
    connector: FakeBotConnector,
    user: dict[str, str],
    card_message: RecordedActivity,
    verb: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The `adaptiveCard/action` invoke Teams sends when `user` presses an Action.Execute on
    the card the bot sent in `card_message` (its inputs' values merged into `data`)."""
    conversation_id = card_message.conversation_id or ""
    body = card_message.body if isinstance(card_message.body, dict) else {}
    if conversation_id.startswith("19:") or (body.get("channelData") or {}).get("channel"):
        conversation: dict[str, Any] = {
            "conversationType": "channel",
            "isGroup": True,
            "id": conversation_id,
        }
    else:
        conversation = {"conversationType": "personal", "id": conversation_id}
    return _base(connector, user, conversation) | {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "replyToId": card_message.response_id,
        "value": {
            "action": {"type": "Action.Execute", "verb": verb, "data": data},
            "trigger": "manual",
        },
    }


def click(
    app: RunningApp,
    connector: FakeBotConnector,
    user: dict[str, str],
    card_message: RecordedActivity,
    label: str,
    card: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Press the button called `label` (on `card`, default: the message's card); the body."""
    [button] = [b for b in (card or card_of(card_message))["actions"] if b["title"] == label]
    assert button["type"] == "Action.Execute"
    invoke = execute(connector, user, card_message, button["verb"], button["data"])
    response = post(app, invoke)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["statusCode"] == 200
    return body


def post(app: RunningApp, activity: dict[str, Any]) -> httpx.Response:
    with app.client() as client:
        return client.post("/api/messages", json=activity)


# what the bot sent -------------------------------------------------------------------------------
def card_of(record: RecordedActivity) -> dict[str, Any]:
    [card] = record.cards
    return card


def reply_to(connector: FakeBotConnector, activity: dict[str, Any]) -> RecordedActivity:
    [reply] = connector.wait_for(
        1, predicate=lambda r: r.route == "reply_to_activity" and r.activity_id == activity["id"]
    )
    assert reply.conversation_id == activity["conversation"]["id"]
    return reply


def channel_card(connector: FakeBotConnector, incident: int) -> RecordedActivity:
    """The incident card posted as a new thread in the data channel."""

    def wanted(r: RecordedActivity) -> bool:
        channel = ((r.body or {}).get("channelData") or {}).get("channel") or {}
        return channel.get("id") == DATA_CHANNEL and incident_of(r) == incident

    [post] = connector.wait_for(1, route="create_conversation", predicate=wanted)
    return post


def personal_chat(connector: FakeBotConnector, user: dict[str, str], timeout: float = 10) -> str:
    """The personal conversation the bot opened with `user` (it had no reference)."""

    def wanted(r: RecordedActivity) -> bool:
        members = (r.body or {}).get("members") or []
        return [m.get("id") for m in members] == [user["id"]]

    [created] = connector.wait_for(1, timeout, wanted, route="create_conversation")
    assert created.body["isGroup"] is False
    assert created.conversation_id is not None
    return created.conversation_id


def pages(
    connector: FakeBotConnector, conversation_id: str, incident: int, timeout: float = 10
) -> RecordedActivity:
    """The page about `incident` sent into `conversation_id` (a personal chat)."""
    [page] = connector.wait_for(
        1,
        timeout,
        lambda r: (
            r.route == "send_to_conversation"
            and r.conversation_id == conversation_id
            and incident_of(r) == incident
        ),
    )
    return page


def first_message(connector: FakeBotConnector, conversation_id: str) -> RecordedActivity:
    """The first message the bot sent into `conversation_id`."""
    [sent] = connector.wait_for(
        1,
        predicate=lambda r: (
            r.route == "send_to_conversation" and r.conversation_id == conversation_id
        ),
    )
    return sent


def incident_of(record: RecordedActivity) -> int | None:
    """The incident a card is about, read from its buttons (`incident ack 12`)."""
    for card in record.cards:
        for action in card.get("actions") or []:
            found = re.fullmatch(r"incident \w+ (\d+)", str(action.get("data", {}).get("value")))
            if found:
                return int(found.group(1))
    return None


def titles(card: dict[str, Any]) -> list[str]:
    return [action["title"] for action in card.get("actions") or []]


def facts(card: dict[str, Any]) -> dict[str, str]:
    return {
        fact["title"]: fact["value"]
        for block in card["body"]
        if block["type"] == "FactSet"
        for fact in block["facts"]
    }


def plain(markdown: str) -> str:
    """Teams markdown as the reader sees it: the renderer's backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def texts(card: dict[str, Any]) -> str:
    """The card's text blocks as the reader sees them."""
    return plain("\n".join(b["text"] for b in card["body"] if b["type"] == "TextBlock"))


def summary(record: RecordedActivity) -> str:
    return plain(str(record.activity.get("summary") or record.text))


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["id"]: block for block in card["body"] if block["type"].startswith("Input.")}


def assert_valid_form(card: dict[str, Any]) -> None:
    """Everything but the `filtered` style (see FILTERED_GAP) is checked against the schema."""
    strict = json.loads(json.dumps(card).replace('"style": "filtered"', '"style": "compact"'))
    assert validate_adaptive_card(strict) == []


def declare(
    app: RunningApp, connector: FakeBotConnector, text: str, *, user: dict[str, str] = ALICE
) -> tuple[dict[str, Any], RecordedActivity]:
    """Post `text` in the data channel; the activity and the bot's reply in its thread."""
    activity = message(connector, text, user=user, in_channel=True)
    assert post(app, activity).status_code == 200
    return activity, reply_to(connector, activity)


def only_incident(app: RunningApp) -> int:
    [incident] = app.ctx.incidents.search()
    return incident.id


def outbox_kinds(app: RunningApp) -> list[str]:
    with app.ctx.engine.connect() as connection:
        return list(connection.execute(select(outbox_table.c.kind)).scalars())


def assert_incident_buttons(card: dict[str, Any], incident: int) -> None:
    assert titles(card) == BUTTONS
    for action in card["actions"]:
        assert action["type"] == "Action.Execute"
        assert action["verb"] == "run_command"
        assert action["data"]["action"] == "run_command"
    values = [action["data"]["value"] for action in card["actions"]]
    assert values == [
        f"incident {verb} {incident}" for verb in ("ack", "escalate", "resolve", "severity")
    ]


def acknowledged(conversation_id: str | None, activity_id: str | None) -> Predicate:
    """Matches the edit of that message to the acknowledged card."""

    def matches(r: RecordedActivity) -> bool:
        return (
            r.conversation_id == conversation_id
            and r.activity_id == activity_id
            and facts(card_of(r))["Status"] == "Acknowledged"
        )

    return matches


# declaring, paging and escalating ----------------------------------------------------------------
def test_p1_in_a_channel_pages_the_data_team_and_escalates_to_carol_unacknowledged(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    """The whole unacknowledged path: declared in a channel, the channel card and a personal
    page for the on-call person (a chat the bot had to open), then the Accountable person
    after the deadline, with the channel card edited and a note in its thread."""
    _, reply = declare(app, connector, "incident p1 retriever: answers cite the wrong articles")
    incident = only_incident(app)
    assert f"Declared INC-{incident} (P1)" in summary(reply)
    assert "Paging: Chris Novak." in summary(reply)

    posted = channel_card(connector, incident)
    card = card_of(posted)
    assert texts(card).startswith(f"🟠 INC-{incident} · P1 · Retriever: answers cite")
    assert facts(card)["Status"] == "Open — waiting for acknowledgement"
    assert_incident_buttons(card, incident)

    chris_chat = personal_chat(connector, CHRIS)
    page = pages(connector, chris_chat, incident)
    assert texts(card_of(page)).count("You are paged") == 1
    assert_incident_buttons(card_of(page), incident)

    # Nobody acknowledges: after the 2-second deadline the sweep pages Carol (Accountable).
    carol_page = pages(connector, personal_chat(connector, CAROL, timeout=15), incident)
    assert_incident_buttons(card_of(carol_page), incident)
    note = connector.wait_for(
        1,
        predicate=lambda r: (
            r.conversation_id == posted.conversation_id
            and r.route == "send_to_conversation"
            and "Not acknowledged in time" in r.text
        ),
    )[0]
    assert "escalated to Carol Jones (step 1)" in plain(note.text)
    [edit, *_] = connector.wait_for(
        1,
        route="update_activity",
        predicate=lambda r: (
            r.conversation_id == posted.conversation_id
            and r.activity_id == posted.response_id
            and "Carol Jones" in facts(card_of(r)).get("Paged", "")
        ),
    )
    assert titles(card_of(edit)) == BUTTONS  # still open: every button stays
    connector.assert_valid()


def test_acknowledge_refreshes_the_card_in_place_and_stops_the_escalation(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    """Chris, who has talked to the bot before (so his page goes to the chat Teams gave us),
    acknowledges from his page: his card comes back refreshed, every copy is edited, the
    thread says so, a second click is refused, and the sweep leaves the incident alone."""
    hello = message(connector, "help", user=CHRIS)
    assert post(app, hello).status_code == 200
    reply_to(connector, hello)

    declare(app, connector, "incident p1 retriever: empty answers")
    incident = only_incident(app)
    posted = channel_card(connector, incident)
    page = pages(connector, personal(CHRIS)["id"], incident)
    assert not [
        r for r in connector.calls("create_conversation") if (r.body or {}).get("members")
    ]  # no personal chat had to be created for Chris

    body = click(app, connector, CHRIS, page, "Acknowledge")
    assert body["type"] == ADAPTIVE_CARD_CONTENT_TYPE
    refreshed = body["value"]
    assert validate_adaptive_card(refreshed) == []
    assert titles(refreshed) == ["Escalate", "Resolve", "Change severity"]
    assert facts(refreshed)["Status"] == "Acknowledged"
    assert f"You acknowledged INC-{incident}; escalation has stopped." in texts(refreshed)

    # The service's edits: the channel card and Chris's page, for everyone.
    for where, which in (
        (posted.conversation_id, posted.response_id),
        (page.conversation_id, page.response_id),
    ):
        [edit] = connector.wait_for(
            1, route="update_activity", predicate=acknowledged(where, which)
        )
        assert titles(card_of(edit)) == ["Escalate", "Resolve", "Change severity"]
        assert facts(card_of(edit))["Acknowledged"].startswith("Chris Novak · ")
    connector.wait_for(
        1,
        predicate=lambda r: (
            r.conversation_id == posted.conversation_id
            and plain(r.text) == "Acknowledged by Chris Novak."
        ),
    )

    again = click(app, connector, CHRIS, page, "Acknowledge")  # a double click
    assert again["type"] == "application/vnd.microsoft.activity.message"
    assert again["value"] == f"INC-{incident} was already acknowledged by Chris Novak."

    # A second incident, declared after the acknowledgement and left alone, is the control:
    # once Carol is paged for it, the sweep has passed the first one's deadline too.
    declare(app, connector, "incident p1 retriever: stale index")
    control = max(i.id for i in app.ctx.incidents.search())
    carol_chat = personal_chat(connector, CAROL, timeout=15)
    pages(connector, carol_chat, control, timeout=15)
    after = app.ctx.incidents.get(incident)
    assert after.status == "acknowledged"
    # Nobody was paged after the acknowledgement (a machine slow enough to miss the first
    # deadline before the click would show Carol in the card the click returned).
    paged_at_ack = plain(facts(refreshed)["Paged"])
    assert ", ".join(after.responders) == paged_at_ack
    if "Carol Jones" not in paged_at_ack:
        carol_pages = [r for r in connector.activities() if r.conversation_id == carol_chat]
        assert {incident_of(r) for r in carol_pages} == {control}


def test_a_non_responder_click_is_refused_and_the_card_stays(
    steady_app: RunningApp, connector: FakeBotConnector
) -> None:
    declare(steady_app, connector, "incident p1 retriever: empty answers")
    incident = only_incident(steady_app)
    posted = channel_card(connector, incident)
    body = click(steady_app, connector, HENRY, posted, "Acknowledge")
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert body["value"] == (
        f"Only the people paged for INC-{incident}, its Responsible team and its Accountable "
        "owner can do that."
    )
    assert steady_app.ctx.incidents.get(incident).status == "open"
    assert "update" not in outbox_kinds(steady_app)  # no card was edited


def test_change_severity_and_resolve_from_the_channel_card(
    steady_app: RunningApp, connector: FakeBotConnector
) -> None:
    """The chooser replaces the card for the clicker; picking a level refreshes it; resolving
    a P1 asks Carol, privately, who owns the postmortem (her refreshed card would lose it)."""
    declare(steady_app, connector, "incident p1 retriever: empty answers")
    incident = only_incident(steady_app)
    posted = channel_card(connector, incident)

    chooser = click(steady_app, connector, CAROL, posted, "Change severity")
    assert chooser["type"] == ADAPTIVE_CARD_CONTENT_TYPE
    assert titles(chooser["value"]) == ["P0", "P2", "P3"]
    lowered = click(steady_app, connector, CAROL, posted, "P2", card=chooser["value"])
    assert facts(lowered["value"])["Severity"].startswith("P2 — ")
    assert f"INC-{incident} is now P2." in texts(lowered["value"])

    # Back to P1, then resolved: the postmortem question goes to Carol's personal chat.
    chooser = click(steady_app, connector, CAROL, posted, "Change severity")
    click(steady_app, connector, CAROL, posted, "P1", card=chooser["value"])
    resolved = click(steady_app, connector, CAROL, posted, "Resolve")
    assert facts(resolved["value"])["Status"] == "Resolved"
    assert titles(resolved["value"]) == []
    question = first_message(connector, personal_chat(connector, CAROL))
    assert "who owns the postmortem?" in texts(card_of(question))
    taken = click(steady_app, connector, CAROL, question, "I'll own the postmortem")
    assert facts(taken["value"])["Postmortem owner"] == "Carol Jones"


def test_the_same_activity_delivered_twice_is_one_incident(
    steady_app: RunningApp, connector: FakeBotConnector
) -> None:
    activity = message(connector, "incident p1 retriever: empty answers", in_channel=True)
    assert post(steady_app, activity).status_code == 200
    assert post(steady_app, activity).status_code == 200  # Teams delivered it again
    incident = only_incident(steady_app)
    reply_to(connector, activity)
    channel_card(connector, incident)
    pages(connector, personal_chat(connector, CHRIS), incident)
    later = message(connector, "help", in_channel=True)
    assert post(steady_app, later).status_code == 200
    reply_to(connector, later)
    assert len([r for r in connector.activities() if r.activity_id == activity["id"]]) == 1
    assert len(connector.calls("create_conversation")) == 2  # the channel card, Chris's chat


def test_a_channel_declaration_without_component_is_the_channel_teams(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    _, reply = declare(app, connector, "incident p2 answers are slow")
    [incident] = app.ctx.incidents.search()
    assert incident.team_name == "Data team"
    assert incident.component_id is None
    assert "Paging: Chris Novak." in summary(reply)  # P2: the team's on-call person
    pages(connector, personal_chat(connector, CHRIS), incident.id)


def test_p3_pages_nobody(app: RunningApp, connector: FakeBotConnector) -> None:
    _, reply = declare(app, connector, "incident p3 retriever: a typo in a citation")
    assert "P3 goes to the backlog: nobody is paged." in summary(reply)
    only_incident(app)
    assert outbox_kinds(app) == ["respond"]  # the reply is all the bot sends


# the form ----------------------------------------------------------------------------------------
def test_bare_incident_shows_the_form_and_submitting_it_declares(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    asked = message(connector, "incident")
    assert post(app, asked).status_code == 200
    form_message = reply_to(connector, asked)
    form = card_of(form_message)
    assert_valid_form(form)
    fields = inputs(form)
    assert list(fields) == ["severity", "component", "title", "description"]
    assert [c["value"] for c in fields["severity"]["choices"]] == ["p0", "p1", "p2", "p3"]
    assert fields["severity"]["choices"][1]["title"] == "P1 — core feature broken"
    assert fields["component"]["style"] == "filtered"
    assert {"title": "Retriever", "value": "retriever"} in fields["component"]["choices"]
    assert len(fields["component"]["choices"]) == 10  # every component in the catalogue
    assert fields["title"]["maxLength"] == 200 and fields["title"]["isRequired"] is True
    assert fields["title"]["errorMessage"]
    assert fields["description"]["isMultiline"] is True
    [declare_button] = form["actions"]
    assert (declare_button["type"], declare_button["verb"]) == (
        "Action.Execute",
        "incident_declare",
    )

    data = {
        **declare_button["data"],
        "severity": "p1",
        "component": "retriever",
        "title": "Answers cite the wrong articles",
        "description": "Since 09:00, every locale.",
    }
    submit = execute(connector, ALICE, form_message, declare_button["verb"], data)
    response = post(app, submit)
    assert response.status_code == 200
    body = response.json()
    assert (body["statusCode"], body["type"]) == (200, ADAPTIVE_CARD_CONTENT_TYPE)
    incident = only_incident(app)
    assert f"Declared INC-{incident} (P1)" in texts(body["value"])
    assert app.ctx.incidents.get(incident).description == "Since 09:00, every locale."
    pages(connector, personal_chat(connector, CHRIS), incident)
    channel_card(connector, incident)
    # The form is replaced for everyone, not just for Alice.
    [edit] = connector.wait_for(
        1, route="update_activity", predicate=lambda r: r.activity_id == form_message.response_id
    )
    assert "Declared INC" in texts(card_of(edit))

    # Pressing Declare again on the same form declares nothing new.
    again = post(app, submit).json()
    assert f"INC-{incident} was already declared" in texts(again["value"])
    only_incident(app)


def test_a_declaration_with_no_component_outside_a_team_channel_gets_the_form_prefilled(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    asked = message(connector, "incident p1 the answers are empty")
    assert post(app, asked).status_code == 200
    form = card_of(reply_to(connector, asked))
    assert_valid_form(form)
    assert "Choose the affected component." in texts(form)
    fields = inputs(form)
    assert fields["severity"]["value"] == "p1"
    assert fields["title"]["value"] == "the answers are empty"
    assert app.ctx.incidents.search() == []


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"severity": "p9"}, "“p9” is not a severity."),
        ({"severity": ""}, "Choose a severity."),
        ({"title": "   "}, "Give the incident a short title (at most 200 characters)."),
        ({"component": "retreiver"}, "component called “retreiver”. Did you mean: Retriever?"),
        ({"component": ""}, "Choose the affected component."),
        ({"title": "x" * 5000}, "Titles are at most 200 characters; this one has 5000."),
        (
            {"description": "y" * 3001},
            "Descriptions are at most 3000 characters; this one has 3001.",
        ),
    ],
)
def test_bad_form_input_brings_the_form_back_with_the_reason(
    app: RunningApp, connector: FakeBotConnector, values: dict[str, str], says: str
) -> None:
    asked = message(connector, "incident")
    assert post(app, asked).status_code == 200
    form_message = reply_to(connector, asked)
    good = {"severity": "p1", "component": "retriever", "title": "Empty answers"}
    data = {"action": "incident_declare", **good, **values}
    response = post(app, execute(connector, ALICE, form_message, "incident_declare", data))
    assert response.status_code == 200
    body = response.json()
    assert (body["statusCode"], body["type"]) == (200, ADAPTIVE_CARD_CONTENT_TYPE)
    again = body["value"]
    assert_valid_form(again)
    [notice] = [b for b in again["body"] if b.get("color") == "Attention"]
    assert says in plain(notice["text"])
    assert len(notice["text"]) < 300
    typed = inputs(again)
    assert typed["title"].get("value", "") == data["title"].strip()[:200]
    assert app.ctx.incidents.search() == []
    assert "update" not in outbox_kinds(app)


# bad typed input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("incident p9 retriever: empty answers", "“p9” is not a severity."),
        ("incident p1 retriever:", "Usage: incident <p0|p1|p2|p3>"),
        ("incident p1 retreiver: empty answers", "Did you mean: Retriever?"),
        (
            "incident p1 retriever: " + "x" * 300,
            "Titles are at most 200 characters; this one has 300.",
        ),
        ("incident p1 retriever: " + "x" * 5000, "I read at most 4000."),
    ],
)
def test_bad_declarations_get_a_short_reply_and_declare_nothing(
    app: RunningApp, connector: FakeBotConnector, text: str, says: str
) -> None:
    activity = message(connector, text)
    assert post(app, activity).status_code == 200
    reply = reply_to(connector, activity)
    shown = summary(reply)
    assert says in shown
    assert len(shown) < 300
    assert "Traceback" not in json.dumps(reply.activity)
    assert app.ctx.incidents.search() == []


def test_markup_in_a_title_is_shown_as_typed_on_every_card(
    app: RunningApp, connector: FakeBotConnector
) -> None:
    """Markdown typed in a message, and `<at>` tags and entities typed in the form (a message's
    own `<at>` tags are real mentions, reduced to names), come out as the characters typed."""
    typed = "**urgent** [docs](http://evil.example) #1"
    declare(app, connector, f"incident p1 retriever: {typed}")
    first = only_incident(app)
    asked = message(connector, "incident")
    assert post(app, asked).status_code == 200
    form_message = reply_to(connector, asked)
    entered = "<at>everyone</at> _now_ &lt;at&gt; <b>x</b>"
    data = {"action": "incident_declare", "severity": "p1", "component": "retriever"}
    submit = execute(connector, ALICE, form_message, "incident_declare", data | {"title": entered})
    assert post(app, submit).json()["type"] == ADAPTIVE_CARD_CONTENT_TYPE
    second = max(i.id for i in app.ctx.incidents.search())
    chris_chat = personal_chat(connector, CHRIS)
    for incident, title in ((first, typed), (second, entered)):
        assert app.ctx.incidents.get(incident).title == title
        for record in (channel_card(connector, incident), pages(connector, chris_chat, incident)):
            heading = card_of(record)["body"][0]["text"]
            assert plain(heading).endswith(f"Retriever: {title}")
            assert re.search(r"(?<!\\)[<>\[\]*_&#]", heading) is None  # every one escaped
            assert "<at>" not in json.dumps(record.activity)


def test_a_page_teams_refuses_for_good_is_in_the_thread_and_escalates_at_once(
    steady_app: RunningApp, connector: FakeBotConnector
) -> None:
    """Chris does not have the app: Teams refuses to open his personal chat (403). The
    channel thread says so in words, and Carol is paged at once, an hour before the
    deadline."""
    connector.fail_next(
        403,
        route=f"create_conversation:{CHRIS['id']}",
        body={"error": {"code": "BotNotInConversationRoster", "message": "not installed"}},
    )
    declare(steady_app, connector, "incident p1 retriever: empty answers")
    incident = only_incident(steady_app)
    posted = channel_card(connector, incident)
    connector.wait_for(
        1,
        15,
        lambda r: (
            r.conversation_id == posted.conversation_id
            and plain(r.text) == "Could not reach Chris Novak: the app is not installed for them."
        ),
    )
    carol_page = pages(connector, personal_chat(connector, CAROL, timeout=15), incident)
    assert "still unacknowledged" in texts(card_of(carol_page))
    assert not [
        r
        for r in connector.activities()
        if r.route == "send_to_conversation" and "You are paged" in r.text
    ]
