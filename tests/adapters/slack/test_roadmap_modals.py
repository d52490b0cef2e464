"""The roadmap nudge's modals (Extend, Stop): valid Block Kit in each language, metadata that
round-trips and refuses what is not ours, and inputs read without trusting their shape."""

from __future__ import annotations

import json

import pytest
from slack_sdk.models.views import View

from launchops.adapters.slack.roadmap_modals import (
    EXTEND_FORM,
    REASON_BLOCK,
    STOP_FORM,
    WHEN_BLOCK,
    RoadmapFormContext,
    read_input,
    roadmap_form,
)

VALUE = "ticket-summarizer:poc:2"


def test_metadata_round_trips_and_refuses_what_is_not_ours() -> None:
    context = RoadmapFormContext(VALUE, "D0BOB", "https://hooks.slack.com/actions/x", "ko")
    assert RoadmapFormContext.from_metadata(context.to_metadata()) == context
    huge = RoadmapFormContext(VALUE, None, "https://x/" + "y" * 4000)
    assert RoadmapFormContext.from_metadata(huge.to_metadata()) == RoadmapFormContext(VALUE)
    for forged in ("", "[]", "{", '{"roadmap": 3}', '{"gate": 3, "version": 1}', None, 7):
        assert RoadmapFormContext.from_metadata(forged) is None
    assert RoadmapFormContext.from_metadata(json.dumps({"roadmap": "x" * 300})) is None


@pytest.mark.parametrize("kind", ["extend", "stop"])
@pytest.mark.parametrize("locale", ["en", "ko"])
def test_forms_are_valid_modals_in_each_language(kind: str, locale: str) -> None:
    view = roadmap_form(kind, RoadmapFormContext(VALUE, locale=locale))
    View(**view).validate_json()  # slack_sdk's own checks (title and button lengths, …)
    assert view["callback_id"] == (EXTEND_FORM if kind == "extend" else STOP_FORM)
    blocks = [b.get("block_id") for b in view["blocks"] if b["type"] == "input"]
    assert blocks == ([WHEN_BLOCK, REASON_BLOCK] if kind == "extend" else [REASON_BLOCK])
    assert "ticket-summarizer" in view["blocks"][0]["text"]["text"]


def test_reading_the_inputs_never_raises() -> None:
    typed = {"state": {"values": {REASON_BLOCK: {"value": {"value": "  why \n"}}}}}
    assert read_input(typed, REASON_BLOCK) == "why"
    assert read_input(typed, WHEN_BLOCK) == ""
    for view in ({}, {"state": None}, {"state": {"values": {REASON_BLOCK: []}}}):
        assert read_input(view, REASON_BLOCK) == ""
