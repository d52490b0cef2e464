"""The incident form card: carried through the outbox as a Reply, drawn with inputs by the
renderer, read back from the invoke without trusting what the client sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from launchops.adapters.teams.forms import (
    FORM_VERB,
    FormState,
    form_reply,
    form_state,
    submitted,
)
from launchops.adapters.teams.render import (
    ADAPTIVE_CARD_CONTENT_TYPE,
    CARD_BUDGET_BYTES,
    render,
    to_activity,
)
from launchops.messages.reply import Action, Card, Reply
from tests.fakes.cards import validate_adaptive_card

COMPONENTS = (("retriever", "Retriever"), ("indexing", "Indexing pipeline"))


def _inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["id"]: block for block in card["body"] if block["type"].startswith("Input.")}


def _problems(card: dict[str, Any]) -> list[str]:
    return validate_adaptive_card(card)


def test_the_form_survives_the_outbox_round_trip() -> None:
    """The outbox stores the Reply as JSON; what comes back must still be the same form."""
    state = FormState(
        severity="p1",
        component="retriever",
        title="Empty answers",
        description="since 09:00",
        components=COMPONENTS,
        message="Choose the affected component.",
        locale="ko",
    )
    stored = Reply.model_validate(json.loads(form_reply(state).model_dump_json()))
    assert form_state(stored) == state


def test_ordinary_replies_and_tampered_values_are_not_forms() -> None:
    assert form_state(Reply(text="hi")) is None
    button = Action(id="run_command", label="Go", value="help")
    assert form_state(Reply(text="hi", card=Card(title="x", actions=(button,)))) is None
    broken = Action(id=FORM_VERB, label="Declare", value="{not json")
    assert form_state(Reply(text="x", card=Card(title="x", actions=(broken,)))) is None
    odd = Action(id=FORM_VERB, label="Declare", value=json.dumps({"title": 5, "components": 1}))
    assert form_state(Reply(text="x", card=Card(title="x", actions=(odd,)))) == FormState()


def test_prefilled_values_are_clipped_to_what_the_inputs_accept() -> None:
    state = form_state(form_reply(FormState(title="t" * 5000, description="d" * 4000)))
    assert state is not None
    assert (len(state.title), len(state.description)) == (200, 3000)


def test_the_form_card_has_every_input_and_only_filtered_is_new_to_the_schema() -> None:
    card = render(form_reply(FormState(components=COMPONENTS)), "en")
    fields = _inputs(card)
    assert list(fields) == ["severity", "component", "title", "description"]
    severity = fields["severity"]
    assert severity["isRequired"] is True and severity["errorMessage"] == "Choose a severity."
    assert [c["title"] for c in severity["choices"]] == [
        "P0 — whole service down",
        "P1 — core feature broken",
        "P2 — part of a feature degraded",
        "P3 — minor issue, goes to the backlog",
    ]
    component = fields["component"]
    assert component["type"] == "Input.ChoiceSet" and component["style"] == "filtered"
    assert component["choices"] == [
        {"title": "Retriever", "value": "retriever"},
        {"title": "Indexing pipeline", "value": "indexing"},
    ]
    title = fields["title"]
    assert (title["maxLength"], title["isRequired"]) == (200, True)
    assert title["errorMessage"] == "Give the incident a short title (at most 200 characters)."
    assert fields["description"]["isMultiline"] is True
    [submit] = card["actions"]
    assert submit == {
        "type": "Action.Execute",
        "title": "Declare",
        "verb": FORM_VERB,
        "data": {"action": FORM_VERB},
        "style": "positive",
    }
    [problem] = _problems(card)
    assert "style: 'filtered'" in problem
    compact = {**component, "style": "compact"}
    strict = {**card, "body": [compact if b is component else b for b in card["body"]]}
    assert _problems(strict) == []


def test_the_form_keeps_what_was_typed_and_escapes_the_message() -> None:
    state = FormState(
        severity="p2",
        component="indexing",
        title="<at>everyone</at> **now**",
        description="line one\nline two",
        components=COMPONENTS,
        message="I don't know a component called “[x](http://evil)”.",
    )
    card = render(form_reply(state), "en")
    fields = _inputs(card)
    assert fields["severity"]["value"] == "p2"
    assert fields["component"]["value"] == "indexing"
    assert fields["title"]["value"] == "<at>everyone</at> **now**"  # an input shows plain text
    assert fields["description"]["value"] == "line one\nline two"
    [notice] = [b for b in card["body"] if b.get("color") == "Attention"]
    assert notice["text"] == "I don't know a component called “\\[x\\]\\(http://evil\\)”."


def test_an_unknown_prefill_is_not_preselected() -> None:
    fields = _inputs(
        render(form_reply(FormState(severity="p9", component="nope", components=COMPONENTS)))
    )
    assert "value" not in fields["severity"]
    assert "value" not in fields["component"]


def test_without_choices_the_component_is_typed() -> None:
    card = render(form_reply(FormState(component="rag")), "en")
    component = _inputs(card)["component"]
    assert component["type"] == "Input.Text" and component["value"] == "rag"
    assert _problems(card) == []


def test_too_many_names_for_one_message_fall_back_to_a_typed_component() -> None:
    """Teams refuses messages over 28 KB: a list that would not fit becomes a text input."""
    many = tuple((f"component-{i:03}", "컴포넌트 " * 30 + str(i)) for i in range(100))
    card = render(form_reply(FormState(components=many, description="설명 " * 1500)), "ko")
    assert _inputs(card)["component"]["type"] == "Input.Text"
    assert len(json.dumps(card)) <= CARD_BUDGET_BYTES
    assert _problems(card) == []


def test_the_form_speaks_the_language_it_was_made_in() -> None:
    card = render(form_reply(FormState(components=COMPONENTS, locale="ko")), "en")
    assert card["lang"] == "ko"
    assert card["body"][0]["text"] == "인시던트 선언"
    assert _inputs(card)["severity"]["label"] == "심각도"
    assert card["actions"][0]["title"] == "선언"


def test_the_form_goes_out_as_a_card_with_a_summary() -> None:
    activity = to_activity(form_reply(FormState(components=COMPONENTS)))
    [attachment] = activity.attachments
    assert attachment.content_type == ADAPTIVE_CARD_CONTENT_TYPE
    assert _inputs(attachment.content)
    assert activity.summary == "Declare an incident: fill in the form on this card."


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"action": FORM_VERB, "severity": " P1 ", "component": "retriever", "title": " x "},
            FormState(severity="p1", component="retriever", title="x"),
        ),
        ({"severity": 1, "title": ["x"], "description": None}, FormState()),
        ({}, FormState()),
    ],
)
def test_submitted_values_are_read_without_trusting_their_types(
    data: dict[str, Any], expected: FormState
) -> None:
    assert submitted(data) == expected
