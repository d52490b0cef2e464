"""Gate buttons on Teams cards: how they are drawn, and which invokes reach which work.

The end-to-end behaviour (decisions, refusals, refreshed cards) is in
tests/e2e/test_teams_gates_e2e.py; here the renderer's side and the verb table alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from launchops.adapters.teams.activity import Turn
from launchops.adapters.teams.forms import ACTION_INPUTS
from launchops.adapters.teams.invoke import CardActions
from launchops.adapters.teams.render import input_card, render
from launchops.chat.commands import Asker
from launchops.messages.i18n import LOCALES, catalogue
from launchops.messages.reply import Action, Card, Reply
from launchops.services.gates import MAX_COMMENT_CHARS, MAX_REASON_CHARS
from tests.fakes.cards import assert_adaptive_card

VALUE = "7:2"


def _gate_reply(locale: str = "en") -> Reply:
    actions = (
        Action(id="gate_approve", label="Approve", value=VALUE, style="primary"),
        Action(id="gate_reject", label="Reject", value=VALUE, style="danger"),
        Action(id="gate_comment", label="Comment", value=VALUE),
    )
    card = Card(title="gate #7 · Support assistant", text="[x](http://evil)", actions=actions)
    return Reply(text="gate #7", card=card)


@pytest.mark.parametrize("locale", LOCALES)
def test_reject_and_comment_open_a_required_text_box_with_their_own_send_button(
    locale: str,
) -> None:
    card = render(_gate_reply(locale), locale)
    assert_adaptive_card(card)
    approve, reject, comment = card["actions"]
    assert approve == {
        "type": "Action.Execute",
        "title": "Approve",
        "verb": "gate_approve",
        "data": {"action": "gate_approve", "value": VALUE},
        "style": "positive",
    }
    for opener, verb, box, limit in (
        (reject, "gate_reject", "reason", MAX_REASON_CHARS),
        (comment, "gate_comment", "comment", MAX_COMMENT_CHARS),
    ):
        assert opener["type"] == "Action.ShowCard"
        [field] = opener["card"]["body"]
        assert field["type"] == "Input.Text" and field["id"] == box
        assert field["isRequired"] is True and field["maxLength"] == limit
        assert field["errorMessage"] and field["label"] and field["placeholder"]
        [send] = opener["card"]["actions"]
        assert send["verb"] == verb and send["data"] == {"action": verb, "value": VALUE}
    assert reject["card"]["actions"][0]["style"] == "destructive"


def test_the_text_box_card_keeps_what_was_typed_and_escapes_the_message() -> None:
    action = Action(id="gate_reject", label="gate_reject", value=VALUE)
    card = input_card("gate #7", action, "Bad: [x](http://evil)", "half a reason", "en")
    assert_adaptive_card(card)
    heading, notice, box = card["body"]
    assert heading["text"] == "gate \\#7"
    assert notice["color"] == "Attention" and "\\[x\\]" in notice["text"]
    assert (box["id"], box["value"]) == ("reason", "half a reason")
    [send] = card["actions"]
    assert (send["title"], send["verb"], send["data"]["value"]) == ("Reject", "gate_reject", VALUE)


def test_every_text_box_has_its_texts_in_every_language() -> None:
    for locale in LOCALES:
        texts = catalogue(locale)
        for spec in ACTION_INPUTS.values():
            for key in ("label", "placeholder", "required", "submit"):
                assert texts.get(f"{spec.texts}.{key}"), (locale, spec.texts, key)


class _NoChat:
    """Any use of the chat core fails the test: these invokes must not reach it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the chat core was used: {name}")


def _turn() -> Turn:
    asker = Asker(platform="teams", user_ids=("29:1dan",))
    return Turn(
        asker=asker,
        conversation_id="a:1",
        reply_to_id="1",
        service_url="",
        locale="en",
        dedupe_key=None,
    )


@pytest.mark.parametrize(
    ("verb", "data"),
    [
        ("gate_launch", {"action": "gate_launch", "value": VALUE}),  # no such button
        ("gate_approve", {"action": "gate_reject", "value": VALUE}),  # verb and data disagree
        ("run_command", {"action": "run_command", "value": 12}),  # not a command
    ],
)
def test_invokes_no_card_of_ours_sends_reach_nothing(verb: str, data: dict[str, Any]) -> None:
    actions = CardActions(
        chat=_NoChat(),  # type: ignore[arg-type]
        messaging=_NoChat(),  # type: ignore[arg-type]
        answer=lambda turn, text: Reply(text=""),
        choices=lambda: (),
    )
    assert actions.execute(verb, _turn(), data) is None
