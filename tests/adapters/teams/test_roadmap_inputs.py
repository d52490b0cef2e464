"""The roadmap nudge's buttons on a Teams card: Extend opens a date and a reason box, Stop a
reason box, both required with their own send button; a refused text comes back with what
was typed; a forged value never reaches the roadmap service."""

from __future__ import annotations

from typing import Any

import pytest

from launchops.adapters.teams.activity import Turn
from launchops.adapters.teams.forms import ACTION_INPUTS
from launchops.adapters.teams.invoke import CardActions
from launchops.adapters.teams.render import input_card, render
from launchops.chat.commands import Asker, ChatCore
from launchops.domain.errors import BadCommand
from launchops.messages.i18n import LOCALES, catalogue
from launchops.messages.reply import Action, Card, Reply
from launchops.services.roadmap import MAX_REASON_CHARS
from tests.fakes.cards import assert_adaptive_card

VALUE = "ticket-summarizer:poc:1"


def _nudge() -> Reply:
    actions = tuple(
        Action(id=f"roadmap_{what}", label=what, value=VALUE)
        for what in ("request_gate", "extend", "stop")
    )
    return Reply(text="nudge", card=Card(title="⏰ Ticket summarizer", actions=actions))


@pytest.mark.parametrize("locale", LOCALES)
def test_extend_and_stop_open_required_boxes(locale: str) -> None:
    card = render(_nudge(), locale)
    assert_adaptive_card(card)
    request, extend, stop = card["actions"]
    assert request["type"] == "Action.Execute" and request["verb"] == "roadmap_request_gate"
    when, reason = extend["card"]["body"]
    assert (when["id"], when["isMultiline"], when["maxLength"]) == ("when", False, 40)
    assert (reason["id"], reason["maxLength"]) == ("reason", MAX_REASON_CHARS)
    assert all(box["isRequired"] and box["errorMessage"] for box in (when, reason))
    [send] = extend["card"]["actions"]
    assert send["verb"] == "roadmap_extend" and send["data"]["value"] == VALUE
    [only] = stop["card"]["body"]
    assert only["id"] == "reason" and stop["card"]["actions"][0]["verb"] == "roadmap_stop"


def test_the_boxes_come_back_with_what_was_typed() -> None:
    action = Action(id="roadmap_extend", label="roadmap_extend", value=VALUE)
    card = input_card("ticket-summarizer", action, "A reason, please", "", "en", {"when": "2w"})
    assert_adaptive_card(card)
    boxes = {b["id"]: b for b in card["body"] if b["type"] == "Input.Text"}
    assert boxes["when"]["value"] == "2w" and "value" not in boxes["reason"]


def test_every_roadmap_box_has_its_texts_in_every_language() -> None:
    for locale in LOCALES:
        texts = catalogue(locale)
        for spec in ACTION_INPUTS.values():
            for box in spec.inputs():
                for key in ("label", "placeholder", "required", "submit"):
                    assert texts.get(f"{box.texts}.{key}"), (locale, box.texts, key)


class _RefusingChat:
    """Only `refuse` may be used: a forged value must not reach the roadmap service."""

    def refuse(self, error: BadCommand, asker: Asker) -> Any:
        return ChatCore.refuse(self, error, asker)  # type: ignore[arg-type]

    def locale_of(self, asker: Asker) -> str:
        return "en"

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the chat core was used: {name}")


@pytest.mark.parametrize("value", ["", None, 7, "x" * 500])
def test_a_forged_value_is_refused_before_the_service(value: Any) -> None:
    actions = CardActions(
        chat=_RefusingChat(),  # type: ignore[arg-type]
        messaging=None,  # type: ignore[arg-type]
        answer=lambda turn, text: Reply(text=""),
        choices=lambda: (),
    )
    turn = Turn(
        asker=Asker(platform="teams", user_ids=("29:1bob",)),
        conversation_id="a:1",
        reply_to_id="1",
        service_url="",
        locale="en",
        dedupe_key=None,
    )
    body = actions.execute("roadmap_stop", turn, {"action": "roadmap_stop", "value": value})
    assert body is not None and "damaged or not one of ours" in body["value"]
