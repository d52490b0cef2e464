"""The incident form (bare `incident`) as data: what it shows, how it travels, what came back.

Teams has no modal to open on a message, so the form is a card posted as the bot's answer.
Every answer goes through the outbox as a neutral `Reply`, which has no notion of inputs, so
the form is carried as a `Reply` whose only button is the form's submit action
(`incident_declare`), with the form's state as JSON in the button's value. `render.py`
recognises that button and draws the inputs; any other renderer would just show a title and a
button, which is why this shape never leaves the Teams adapter.

The invoke that comes back when someone presses the button carries the inputs' values merged
into the action's `data`; `submitted` reads them without trusting their types.

Some buttons need words before they can act: a gate's Reject needs a reason, its Comment the
comment. `ACTION_INPUTS` names them by action id; `render.py` draws each as a button that
opens a text box (required) with the button that submits it, and reads the typed text back
under the input's id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from launchops.domain.incidents import MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS
from launchops.messages.i18n import t
from launchops.messages.reply import Action, Card, Reply
from launchops.services.gates import MAX_COMMENT_CHARS, MAX_REASON_CHARS
from launchops.services.roadmap import MAX_REASON_CHARS as MAX_ROADMAP_REASON_CHARS

__all__ = [
    "ACTION_INPUTS",
    "FORM_VERB",
    "MAX_COMPONENT_CHOICES",
    "ActionInput",
    "FormState",
    "form_reply",
    "form_state",
    "submitted",
]

FORM_VERB: Final = "incident_declare"
# Every component is listed in a searchable (filtered) choice set; past this many the card
# would get too big for Teams' 28 KB message limit, so the form asks for a typed name instead.
MAX_COMPONENT_CHOICES: Final = 100
_TEXT_FIELDS: Final = ("severity", "component", "title", "description")


@dataclass(frozen=True)
class ActionInput:
    """The text a button asks for before it acts.

    `id` is the input's id (its value comes back in the invoke's `data` under it); `texts` is
    the catalogue group with its `label`, `placeholder`, `required` (shown when it is left
    empty) and `submit` (the button under the box); `max_length` is the service's limit.
    """

    id: str
    texts: str
    max_length: int
    multiline: bool = True
    # Boxes drawn above this one on the same card (a roadmap Extend's new date above its
    # reason); each is required too and comes back in `data` under its own id.
    before: tuple[ActionInput, ...] = ()

    def inputs(self) -> tuple[ActionInput, ...]:
        """Every box of the button, top to bottom."""
        return (*self.before, self)

    def text(self, key: str, locale: str, **params: Any) -> str:
        return t(f"{self.texts}.{key}", locale, **params)

    def typed(self, data: Mapping[str, Any]) -> str:
        """What was typed, trimmed; anything that is not a string counts as empty."""
        return _text(data.get(self.id))


ACTION_INPUTS: Final = {
    "gate_reject": ActionInput("reason", "teams.gate.reject", MAX_REASON_CHARS),
    "gate_comment": ActionInput("comment", "teams.gate.comment", MAX_COMMENT_CHARS),
    # The roadmap nudge's Extend (a new date or duration, and a reason) and Stop (a reason).
    "roadmap_extend": ActionInput(
        "reason",
        "teams.roadmap.extend_reason",
        MAX_ROADMAP_REASON_CHARS,
        before=(ActionInput("when", "teams.roadmap.when", 40, multiline=False),),
    ),
    "roadmap_stop": ActionInput("reason", "teams.roadmap.stop_reason", MAX_ROADMAP_REASON_CHARS),
    "digest_assign": ActionInput("owner", "teams.digest.assign", 100, multiline=False),
}


@dataclass(frozen=True)
class FormState:
    """What the form shows: prefilled values, the component choices and a message on top.

    `components` holds (id, name) pairs; empty means "type the component's name or alias".
    `locale` is the language of the whole form, decided once when the form is made, so that
    its labels match the message on top whatever language the Teams client runs in.
    """

    severity: str = ""
    component: str = ""
    title: str = ""
    description: str = ""
    components: tuple[tuple[str, str], ...] = ()
    message: str | None = None
    locale: str = "en"

    def prefilled(self) -> FormState:
        """Values clipped to what the inputs accept (the message says what was too long)."""
        return replace(
            self,
            title=self.title[:MAX_TITLE_CHARS],
            description=self.description[:MAX_DESCRIPTION_CHARS],
            severity=self.severity[:20],
            component=self.component[:200],
        )


def form_reply(state: FormState) -> Reply:
    """The form as a neutral Reply (see the module docstring)."""
    state = state.prefilled()
    payload = {
        "severity": state.severity,
        "component": state.component,
        "title": state.title,
        "description": state.description,
        "components": [list(pair) for pair in state.components],
        "message": state.message,
        "locale": state.locale,
    }
    title = t("teams.incident_form.title", state.locale)
    submit = Action(
        id=FORM_VERB,
        label=t("teams.incident_form.submit", state.locale),
        value=json.dumps(payload, ensure_ascii=False),
        style="primary",
    )
    fallback = t("teams.incident_form.fallback", state.locale)
    text = f"{state.message} {fallback}" if state.message else fallback
    return Reply(
        text=text, private=True, card=Card(title=title, text=state.message, actions=(submit,))
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        return ()
    pairs = []
    for item in value:
        if isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item):
            pairs.append((item[0], item[1]))
    return tuple(pairs)


def form_state(reply: Reply) -> FormState | None:
    """The form `reply` carries, or None when it is an ordinary reply."""
    card = reply.card
    if card is None or len(card.actions) != 1 or card.actions[0].id != FORM_VERB:
        return None
    try:
        data = json.loads(card.actions[0].value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    message = data.get("message")
    locale = data.get("locale")
    return FormState(
        severity=_text(data.get("severity")),
        component=_text(data.get("component")),
        title=_text(data.get("title")),
        description=_text(data.get("description")),
        components=_pairs(data.get("components")),
        message=message if isinstance(message, str) and message else None,
        locale=locale if isinstance(locale, str) and locale else "en",
    )


def submitted(data: Mapping[str, Any], components: Sequence[tuple[str, str]] = ()) -> FormState:
    """The values of a submitted form; anything that is not a string counts as empty.

    Whitespace is trimmed and the severity lower-cased, nothing else: lengths and meanings
    are checked by the incident service, whose refusals the form then shows.
    """
    values = {name: _text(data.get(name)) for name in _TEXT_FIELDS}
    return FormState(
        severity=values["severity"].lower(),
        component=values["component"],
        title=values["title"],
        description=values["description"],
        components=tuple(components),
    )
