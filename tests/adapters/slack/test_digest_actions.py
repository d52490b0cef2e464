"""The digest's Assign modal in Slack: a valid modal in each language with the default owner
preselected, its metadata round-trips, forged metadata is refused, the picked owner is read."""

from __future__ import annotations

import json

import pytest
from slack_sdk.models.views import View

from launchops.adapters.slack.digest_actions import (
    ASSIGN_FORM,
    OWNER_ACTION,
    OWNER_BLOCK,
    AssignContext,
    assign_form,
    read_owner,
)
from launchops.services.digest_followup import Owner

OWNERS = [Owner("team", "ml", "ML team"), Owner("team", "data", "Data team")] + [
    Owner("person", f"p{n}", f"Person {n}") for n in range(150)
]


@pytest.mark.parametrize("locale", ["en", "ko"])
def test_the_modal_is_valid_and_preselects_the_default_owner(locale: str) -> None:
    context = AssignContext("12", "C0MLTEAM", "https://hooks.slack.test/r", locale)
    view = assign_form(context, "Timeout after 5s " * 300, OWNERS, OWNERS[1])
    View(**view).validate_json()
    assert view["callback_id"] == ASSIGN_FORM
    element = view["blocks"][1]["element"]
    assert len(element["options"]) == 100  # Slack's limit for a static select
    assert element["initial_option"]["value"] == "team:data"
    assert AssignContext.from_metadata(view["private_metadata"]) == context


@pytest.mark.parametrize(
    "metadata", ["", "nope", "[]", json.dumps({"pattern": 12}), "x" * 4000, None]
)
def test_forged_metadata_is_refused(metadata: object) -> None:
    assert AssignContext.from_metadata(metadata) is None


def test_the_picked_owner_is_read_and_anything_else_is_empty() -> None:
    picked = {"selected_option": {"value": "person:alice"}}
    view = {"state": {"values": {OWNER_BLOCK: {OWNER_ACTION: picked}}}}
    assert read_owner(view) == "person:alice"
    assert read_owner({"state": {"values": {OWNER_BLOCK: {OWNER_ACTION: {}}}}}) == ""
    assert read_owner({}) == ""
