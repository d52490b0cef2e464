"""The Slack listeners' decisions that are not visible from outside: when a form replaces a
reply, where private replies go, and which answers leave after the ack, and how.
(Everything else about them is shown end to end in tests/e2e/test_slack_*.py.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from launchops.adapters.slack.after_ack import PENDING, AfterAck, RecentKeys, run_pending
from launchops.adapters.slack.buttons import ButtonReplies, Click
from launchops.adapters.slack.forms import IncidentForms, form_prefill, private_destination
from launchops.adapters.slack.modals import FormContext, Prefill
from launchops.adapters.slack.sender import SlackSender
from launchops.chat.commands import Answer, ChatCore
from launchops.chat.grammar import DeclareIncident, IncidentForm
from launchops.config import load_config
from launchops.domain.errors import BadCommand, NotFound
from launchops.messages.reply import Reply
from launchops.services.config_sync import sync_config
from launchops.services.ownership import OwnershipService
from launchops.services.people import PeopleService
from launchops.store import make_engine
from tests.conftest import CONFIG_DIR
from tests.fakes.slack_api import FakeSlackAPI


def test_a_form_replaces_the_reply_for_bare_incident_and_for_a_missing_component() -> None:
    reply = Reply(text="x", private=True)
    bare = Answer(reply, "en", IncidentForm(), BadCommand("usage.incident"))
    assert form_prefill(bare) == Prefill()
    needs = BadCommand("error.incident_needs_component", level="p1", title="empty answers")
    declared = Answer(reply, "en", DeclareIncident("p1", "empty answers"), needs)
    assert form_prefill(declared) == Prefill("p1", "empty answers")
    unknown = NotFound("error.unknown_component", query="x", suggestions=[])
    assert form_prefill(Answer(reply, "en", DeclareIncident("p1", "t", "x"), unknown)) is None
    assert form_prefill(Answer(reply, "en", DeclareIncident("p1", "t", "rag"))) is None


def test_private_replies_prefer_the_response_url_then_an_ephemeral_then_a_dm() -> None:
    url = "https://hooks.slack.com/actions/T/1/x"
    assert private_destination("U1", "C1", url) == (
        "respond",
        {"response_url": url, "private": True},
    )
    assert private_destination("U1", "C1", None) == ("ephemeral", {"channel": "C1", "user": "U1"})
    assert private_destination("U1", "G1", None)[0] == "ephemeral"
    assert private_destination("U1", "DU1", None) == ("dm", {"user": "U1"})
    assert private_destination("U1", None, None) == ("dm", {"user": "U1"})


# -- the form listeners over a real store and the loopback Web API ---------------------------


class RecordingAck:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake
        fake.assert_valid()


@pytest.fixture
def forms(sqlite_url: str, slack: FakeSlackAPI) -> Iterator[IncidentForms]:
    engine = make_engine(sqlite_url)
    sync_config(engine, load_config(CONFIG_DIR), source="config", actor="test")
    ownership = OwnershipService(engine)
    chat = ChatCore(people=PeopleService(engine), ownership=ownership)
    client = WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])
    yield IncidentForms(
        chat=chat, ownership=ownership, client=client, after_ack=AfterAck(SlackSender(client))
    )
    engine.dispose()


def _options(forms: IncidentForms, query: str) -> list[str]:
    ack = RecordingAck()
    forms.on_component_options(ack, {"value": query})  # type: ignore[arg-type]
    [call] = ack.calls
    return [option["text"]["text"] for option in call["options"]]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("rag", "Retriever"),  # an alias
        ("Retr", "Retriever"),  # a prefix of the name
        ("검색기", "Retriever"),  # a Korean alias
        ("retreiver", "Retriever"),  # a typo
        ("gate", "Inference gateway"),  # a prefix of an alias
        ("vector store", "Indexing pipeline"),
    ],
)
def test_component_picker_finds_components_by_any_name(
    forms: IncidentForms, query: str, first: str
) -> None:
    assert _options(forms, query)[0] == first


def test_component_picker_lists_everything_when_empty_and_nothing_for_nonsense(
    forms: IncidentForms,
) -> None:
    everything = _options(forms, "")
    assert len(everything) == 10 and everything == sorted(everything, key=str.casefold)
    assert _options(forms, "qqqqzzzz") == []


def test_form_opens_once_per_trigger_after_the_ack_and_reports_slack_refusing(
    forms: IncidentForms, slack: FakeSlackAPI
) -> None:
    """The listener only queues views.open for after the ack, and a redelivered command
    reuses its trigger_id: the second delivery must not open a second form. An expired
    trigger makes views.open fail: `otherwise` answers in text instead."""
    form = FormContext("C0GENERAL", None, "en")
    refused: list[str] = []
    first: list[Callable[[], None]] = []
    forms.open({PENDING: first}, "1.2", form, Prefill(), otherwise=lambda: refused.append("1.2"))
    assert slack.calls("views.open") == [] and len(first) == 1  # nothing before the ack
    run_pending(first)
    assert len(slack.calls("views.open")) == 1
    again: list[Callable[[], None]] = []
    forms.open({PENDING: again}, "1.2", form, Prefill(), otherwise=lambda: refused.append("1.2"))
    assert again == [] and len(slack.calls("views.open")) == 1  # the redelivery opens nothing

    slack.set_response("views.open", {"ok": False, "error": "expired_trigger_id"})
    expired: list[Callable[[], None]] = []
    forms.open({PENDING: expired}, "3.4", form, Prefill(), otherwise=lambda: refused.append("3.4"))
    assert refused == []
    run_pending(expired)
    assert refused == ["3.4"] and len(slack.calls("views.open")) == 2
    # No ack to wait for (Socket Mode, no list on the context): tried at once.
    forms.open({}, "5.6", form, Prefill(), otherwise=lambda: refused.append("5.6"))
    assert refused == ["3.4", "5.6"]


def test_a_refused_button_modal_answers_the_clicker_on_the_response_url_after_the_ack(
    slack: FakeSlackAPI,
) -> None:
    """Reject, Comment, Extend, Stop and Assign open their modal through
    ButtonReplies.open_modal_for: nothing before the ack; when Slack refuses the modal, the
    refusal's answer goes to the clicker alone, on the click's response_url."""
    client = WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])
    replies = ButtonReplies(client, AfterAck(SlackSender(client)), RecentKeys())
    url = slack.response_url("refused")
    click = Click("U0ERIN", "gate_reject", "1:1", "C0GENERAL", url, "7.8.trigger")
    why = {"type": "section", "text": {"type": "mrkdwn", "text": "Why?"}}
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Reject"}, "blocks": [why]}
    answer = Answer(Reply(text="The form could not open: type `gate reject 1 REASON`."), "en")
    slack.set_response("views.open", {"ok": False, "error": "expired_trigger_id"})
    pending: list[Callable[[], None]] = []
    replies.open_modal_for({PENDING: pending}, click, view, form="reject", instead=lambda: answer)
    assert slack.calls("views.open") == [] and slack.calls("response_url") == []
    run_pending(pending)  # what SlackAdapter.handle does once the 200 is out
    assert [c.params["trigger_id"] for c in slack.calls("views.open")] == ["7.8.trigger"]
    [said] = slack.wait_for("response_url")
    assert said.params["text"] == answer.reply.text
    assert said.params["response_type"] == "ephemeral"
