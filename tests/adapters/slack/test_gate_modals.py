"""The stage-gate modals' Block Kit and what their buttons and submissions carry back."""

from __future__ import annotations

import json

import pytest
from slack_sdk.models.views import View

from launchops.adapters.slack.gate_modals import (
    COMMENT_FORM,
    REJECT_FORM,
    TEXT_BLOCK,
    ButtonValue,
    GateFormContext,
    gate_form,
    read_text,
)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("7:2", ButtonValue(7, 2)),
        ("123456789:1", ButtonValue(123456789, 1)),
        ("0:1", None),
        ("7:0", None),
        ("7", None),
        ("7:2:3", None),
        ("-7:2", None),
        (" 7:2", None),
        ("7:2\n", None),
        ("７:2", None),
        ("1234567890:1", None),
        ("a:b", None),
        ("", None),
        (None, None),
    ],
)
def test_button_values_are_two_positive_numbers(value: str | None, parsed: ButtonValue) -> None:
    assert ButtonValue.parse(value) == parsed


def test_metadata_round_trips_and_refuses_what_is_not_ours() -> None:
    context = GateFormContext(3, 2, "D0DAN", "https://hooks.slack.com/actions/x", "ko")
    assert GateFormContext.from_metadata(context.to_metadata()) == context
    huge = GateFormContext(3, 2, None, "https://x/" + "y" * 4000)
    assert GateFormContext.from_metadata(huge.to_metadata()) == GateFormContext(3, 2)
    for forged in ("", "[]", "{", '{"gate": "3", "version": 1}', '{"gate": 3}', None, 7):
        assert GateFormContext.from_metadata(forged) is None
    assert GateFormContext.from_metadata(json.dumps({"gate": 0, "version": 1})) is None


@pytest.mark.parametrize("kind", ["reject", "comment"])
@pytest.mark.parametrize("locale", ["en", "ko"])
def test_forms_are_valid_modals_in_each_language(kind: str, locale: str) -> None:
    view = gate_form(kind, GateFormContext(4, 1, locale=locale))
    View(**view).validate_json()  # slack_sdk's own checks (title and button lengths, …)
    assert view["callback_id"] == (REJECT_FORM if kind == "reject" else COMMENT_FORM)
    assert view["blocks"][-1]["block_id"] == TEXT_BLOCK
    assert len(view["title"]["text"]) <= 24 and len(view["submit"]["text"]) <= 24
    intro = view["blocks"][0]["text"]["text"]
    assert ("gate #4" if locale == "en" else "#4") in intro


def test_reading_the_text_never_raises() -> None:
    typed = {"state": {"values": {TEXT_BLOCK: {"gate_text_input": {"value": "  why \n"}}}}}
    assert read_text(typed) == "why"
    for view in ({}, {"state": None}, {"state": {"values": {TEXT_BLOCK: []}}}):
        assert read_text(view) == ""
