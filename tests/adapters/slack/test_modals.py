"""The incident form's Block Kit: valid for Slack in every language, and read back safely.

Slack rejects a whole views.open over one bad element (a 25-character modal title, a
76-character option), and a submission is only as trustworthy as its parsing: these tests
round-trip the modal through slack_sdk's models and feed the reader malformed payloads.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.views import View

from launchops.adapters.slack import modals
from launchops.adapters.slack.modals import FormContext, FormValues, Prefill
from tests.fakes.slack_api import block_problems


def _round_trips(view: dict[str, Any]) -> None:
    assert block_problems(view["blocks"], "form") == []
    model = View(**view)
    model.validate_json()
    assert model.to_dict() == view


@pytest.mark.parametrize("locale", ["en", "ko"])
def test_form_is_valid_block_kit_in_each_language(locale: str) -> None:
    view = modals.incident_form(locale, FormContext("C0GENERAL", None, locale))
    _round_trips(view)
    assert len(view["title"]["text"]) <= 24 and len(view["submit"]["text"]) <= 24
    options = view["blocks"][0]["element"]["options"]
    assert [o["value"] for o in options] == ["p0", "p1", "p2", "p3"]
    assert all(len(o["text"]["text"]) <= 75 for o in options)


def test_prefilled_form_keeps_level_and_title_and_never_exceeds_limits() -> None:
    view = modals.incident_form(
        "en", FormContext(), Prefill(level="p2", title="<!channel> " + "t" * 300)
    )
    _round_trips(view)
    elements = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert elements["severity"]["initial_option"]["value"] == "p2"
    assert elements["title"]["initial_value"].startswith("<!channel> ")  # plain text input
    assert len(elements["title"]["initial_value"]) == 200


def test_context_travels_in_private_metadata_and_survives_junk() -> None:
    context = FormContext("C0DATA", "https://hooks.slack.com/commands/T/1/x", "ko")
    assert FormContext.from_metadata(context.to_metadata()) == context
    huge = FormContext("C0DATA", "https://x/" + "y" * 4000, "en")
    assert len(huge.to_metadata()) <= 3000
    assert FormContext.from_metadata(huge.to_metadata()) == FormContext("C0DATA", None, "en")
    for junk in (None, "", "not json", "[1, 2]", json.dumps({"channel": 5})):
        assert FormContext.from_metadata(junk) == FormContext()


def test_prefill_button_value_round_trips_and_rejects_unknown_levels() -> None:
    value = Prefill("p1", "empty answers").to_value("ko")
    assert len(value) <= 2000
    assert Prefill.from_value(value) == (Prefill("p1", "empty answers"), "ko")
    assert Prefill.from_value(json.dumps({"level": "p9", "title": 3})) == (Prefill(), "en")
    assert Prefill.from_value("{") == (Prefill(), "en")


def _submitted(**state: dict[str, Any]) -> dict[str, Any]:
    return {"state": {"values": state}}


def test_reading_a_submission() -> None:
    view = _submitted(
        severity={"incident_severity": {"selected_option": {"value": "p1"}}},
        component={"incident_component": {"selected_option": {"value": "retriever"}}},
        title={"incident_title": {"value": "Empty answers"}},
        description={"incident_description": {"value": "  \n "}},
    )
    assert modals.read_form(view) == FormValues("p1", "retriever", "Empty answers", None)


@pytest.mark.parametrize(
    "view",
    [
        {},
        {"state": None},
        _submitted(severity={"incident_severity": "p1"}),
        _submitted(component={"incident_component": {"selected_option": None}}),
        _submitted(title={"incident_title": {"value": None}}),
    ],
)
def test_malformed_submissions_read_as_empty_and_are_refused_per_field(
    view: dict[str, Any],
) -> None:
    values = modals.read_form(view)
    assert values == FormValues(None, None, "", None)
    assert set(modals.missing_fields(values, "en")) == {"severity", "component", "title"}
    assert modals.missing_fields(values, "ko")["title"] == "인시던트 제목을 짧게 적어 주세요."


def test_declaration_errors_are_shown_beside_their_field() -> None:
    assert modals.block_for_error("error.unknown_severity") == "severity"
    assert modals.block_for_error("error.unknown_component") == "component"
    assert modals.block_for_error("error.description_too_long") == "description"
    assert modals.block_for_error("error.title_too_long") == "title"
    assert modals.block_for_error("error.generic") == "title"


def test_component_options_respect_slack_limits() -> None:
    choices = [(f"c{i}", f"Component {i} " + "n" * 100) for i in range(150)]
    options = modals.component_options([("x" * 151, "Too long an id"), *choices])
    assert len(options) == 100
    assert all(len(o["text"]["text"]) <= 75 for o in options)
    assert options[0]["value"] == "c0"
