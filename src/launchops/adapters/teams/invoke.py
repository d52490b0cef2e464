"""Card buttons and the incident form: the `adaptiveCard/action` invoke (Action.Execute).

Teams waits for the invoke's HTTP body and shows it to the person who clicked: the refreshed
incident or gate card after a button on it, the incident form again (with the reason) or its
confirmation after the form's Declare. Whatever changes state is committed, with its outbox
rows, before that body goes back; everyone else's copies are edited through the outbox.

`CardActions.execute` picks the work by the action's verb (one table, `_actions`); a refusal
comes back as a message, which Teams shows on the card without changing it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from http import HTTPStatus
from typing import Any, Final

from launchops.adapters.teams.activity import PLATFORM, RUN_COMMAND, Turn, dedupe_key
from launchops.adapters.teams.digest_actions import digest_works
from launchops.adapters.teams.forms import (
    ACTION_INPUTS,
    FORM_VERB,
    FormState,
    form_reply,
    submitted,
)
from launchops.adapters.teams.render import ADAPTIVE_CARD_CONTENT_TYPE, input_card, render
from launchops.chat.commands import Answer, ChatCore
from launchops.chat.grammar import (
    Command,
    CommentGate,
    DecideGate,
    DeclareIncident,
    IncidentAction,
    RoadmapDecision,
    parse,
)
from launchops.domain.errors import BadCommand, LaunchOpsError
from launchops.domain.incidents import MAX_TITLE_CHARS
from launchops.messages.i18n import t
from launchops.messages.reply import Action, Reply
from launchops.services.messaging import MessagingService

__all__ = [
    "ACTIVITY_MESSAGE_TYPE",
    "ADAPTIVE_CARD_ACTION",
    "NEEDS_COMPONENT",
    "CardActions",
    "error_body",
    "execute_action",
]

ADAPTIVE_CARD_ACTION: Final = "adaptiveCard/action"
ACTIVITY_MESSAGE_TYPE: Final = "application/vnd.microsoft.activity.message"
ERROR_TYPE: Final = "application/vnd.microsoft.error"
INVOKE_MESSAGE_LIMIT: Final = 280
NEEDS_COMPONENT: Final = "error.incident_needs_component"
# A gate button's value: `<request id>:<evidence version>` (messages/gate_views.py).
_GATE_VALUE = re.compile(r"^(\d{1,9}):(\d{1,9})$")
# The service's refusals of the typed text, shown with the text box again to put it right.
_TEXT_REFUSALS: Final = {
    "gate.error.reason_required": "required",
    "gate.error.reason_too_long": None,
    "gate.error.comment_required": "required",
    "gate.error.comment_too_long": None,
}

# A roadmap button's value: `<project_id>:<stage>:<version>` (messages/roadmap_views.py).
_ROADMAP_VALUE_LIMIT: Final = 200
# The roadmap service's refusals of what was typed: the boxes come back to put it right.
_ROADMAP_TEXT_REFUSALS: Final = (
    "roadmap.error.reason.extend",
    "roadmap.error.reason.stop",
    "roadmap.error.reason_too_long",
    "roadmap.error.bad_date",
    "roadmap.error.in_past",
)


# The work behind one verb: the invoke's body, or None for data no card of ours sends.
_Work = Callable[[Turn, dict[str, Any]], dict[str, Any] | None]


class CardActions:
    """The synchronous work behind a card action (run in the thread pool).

    `answer` runs a typed command and sends its reply (the bot's own path for messages);
    `choices` lists the components for the form.
    """

    def __init__(
        self,
        *,
        chat: ChatCore,
        messaging: MessagingService,
        answer: Callable[[Turn, str], Reply],
        choices: Callable[[], tuple[tuple[str, str], ...]],
    ) -> None:
        self._chat = chat
        self._messaging = messaging
        self._answer = answer
        self._choices = choices
        self._actions: dict[str, _Work] = {
            RUN_COMMAND: self._run_command,
            FORM_VERB: self.submit_form,
            "gate_approve": partial(self._gate, "approve"),
            "gate_reject": partial(self._gate, "reject"),
            "gate_comment": partial(self._gate, "comment"),
            "roadmap_request_gate": partial(self._roadmap, "gate"),
            "roadmap_extend": partial(self._roadmap, "extend"),
            "roadmap_stop": partial(self._roadmap, "stop"),
            **digest_works(chat),  # the digest's Assign and Mark reviewed
        }

    def execute(self, verb: str, turn: Turn, data: dict[str, Any]) -> dict[str, Any] | None:
        """The invoke body for an Action.Execute, or None when no card of ours has that verb
        (or its `data` names another action than its verb: not a card we rendered)."""
        work = self._actions.get(verb)
        if work is None or data.get("action", verb) != verb:
            return None
        return work(turn, data)

    def _run_command(self, turn: Turn, data: dict[str, Any]) -> dict[str, Any] | None:
        command = data.get("value")
        return self.click(turn, command) if isinstance(command, str) else None

    def _gate(self, what: str, turn: Turn, data: dict[str, Any]) -> dict[str, Any]:
        """Approve, Reject (with its reason) or Comment on a gate's card.

        The answer to a decision is the gate's card as it now stands (who decided, who is
        pending) with the outcome on top; a double click or a redelivered invoke finds the
        first decision and says so. A button value that is not `<id>:<version>` is refused
        here, another request's id or a non-approver by the gate service, with no change.
        """
        verb = f"gate_{what}"
        found = _GATE_VALUE.match(str(data.get("value") or ""))
        if found is None:
            refused = self._chat.refuse(BadCommand("gate.error.bad_button"), turn.asker)
            return _message_body(refused.reply.text)
        request_id, version = int(found.group(1)), int(found.group(2))
        spec = ACTION_INPUTS.get(verb)
        typed = spec.typed(data) if spec is not None else ""
        asker = turn.asker
        command: Command
        if what == "comment":
            asker = replace(asker, request_key=_comment_key(turn, typed))
            command = CommentGate(request_id, typed)
        else:
            command = DecideGate(request_id, what, typed or None, evidence_version=version)
        answer = self._chat.answer(command, asker)
        if answer.error is not None:
            if spec is None or answer.error.key not in _TEXT_REFUSALS:
                return _message_body(answer.reply.text)
            wording = _TEXT_REFUSALS[answer.error.key]
            message = spec.text(wording, answer.locale) if wording else answer.reply.text
            action = Action(id=verb, label=verb, value=found.group(0))
            title = t("gate.ref", answer.locale, id=request_id)
            return _card_body(input_card(title, action, message, typed, answer.locale))
        if answer.reply.card is None:
            return _message_body(answer.reply.text)
        return _card_body(render(answer.reply, turn.locale))

    def _roadmap(self, what: str, turn: Turn, data: dict[str, Any]) -> dict[str, Any]:
        """Request gate, Extend (a new date and a reason) or Stop (a reason) on a roadmap
        nudge. The roadmap service refuses a forged or stale value, a clicker who is neither
        owner nor sponsor and a missing reason before writing anything; a refused date or
        reason comes back with its boxes (and what was typed) to put it right."""
        verb = "roadmap_request_gate" if what == "gate" else f"roadmap_{what}"
        value = data.get("value")
        if not isinstance(value, str) or not value or len(value) > _ROADMAP_VALUE_LIMIT:
            refused = self._chat.refuse(BadCommand("chat.roadmap.bad_button"), turn.asker)
            return _message_body(refused.reply.text)
        spec = ACTION_INPUTS.get(verb)
        reason = spec.typed(data) if spec is not None else ""
        when = _typed(data.get("when")) if what == "extend" else ""
        command = RoadmapDecision(what, value, when or None, reason or None)
        answer = self._chat.answer(command, turn.asker)
        error_key = answer.error.key if answer.error is not None else None
        if spec is not None and error_key in _ROADMAP_TEXT_REFUSALS:
            action = Action(id=verb, label=verb, value=value)
            title = value.rsplit(":", 2)[0]
            card = input_card(
                title, action, answer.reply.text, reason, answer.locale, {"when": when}
            )
            return _card_body(card)
        return _message_body(answer.reply.text)

    def click(self, turn: Turn, text: str) -> dict[str, Any]:
        """A `run_command` button, run as the person who clicked it.

        On an incident card the answer is the card itself, refreshed, with the outcome on
        top: Teams shows it in place to the clicker, while the incident service has queued
        the edits of every copy of the card (channel post and pages) for everyone else. A
        refusal ("only responders may…") comes back as a message and the card stays as it
        is. Any other button is answered like a typed message.
        """
        target = _incident_target(text)
        if target is None:
            return _message_body(self._answer(turn, text).text)
        answer = self._chat.answer(target, turn.asker)
        if answer.error is not None:
            return _message_body(answer.reply.text)
        if target.action == "status" or (target.action == "severity" and target.level is None):
            # A question, not a change (e.g. the severity choices): shown in place.
            return _card_body(render(answer.reply, turn.locale))
        current = self._chat.answer(IncidentAction("status", target.incident_id), turn.asker)
        if current.error is not None or current.reply.card is None:
            return _message_body(answer.reply.text)
        if answer.reply.card is not None and answer.reply.card.actions:
            # A follow-up question (who owns the postmortem?): the refreshed card is soon
            # replaced by the service's edit, so the question goes to the clicker's chat too.
            self._send_privately(turn, answer.reply)
        return _card_body(render(_with_outcome(current.reply, answer.reply.text), turn.locale))

    def submit_form(self, turn: Turn, data: dict[str, Any]) -> dict[str, Any]:
        """The incident form's Declare: the confirmation replaces the form, or the form comes
        back with what is wrong (and what was typed, so nothing has to be typed again)."""
        values = submitted(data, self._choices())
        asker = replace(turn.asker, request_key=_form_key(turn))
        command = DeclareIncident(
            level=values.severity,
            title=values.title,
            component=values.component or None,
            description=values.description or None,
        )
        answer = self._chat.answer(command, asker)
        if answer.error is not None:
            form = replace(values, message=_form_message(answer, values), locale=answer.locale)
            return _card_body(render(form_reply(form), turn.locale))
        if turn.card_id:
            # The invoke's card replaces the form only for the person who pressed Declare;
            # the edit replaces it for everyone, so nobody declares the same thing again.
            self._messaging.send(
                platform=PLATFORM,
                kind="update",
                destination={
                    "conversation": turn.conversation_id,
                    "activity_id": turn.card_id,
                    "service_url": turn.service_url,
                },
                reply=answer.reply,
                locale=turn.locale,
                dedupe_key=f"{asker.request_key}:done",
            )
        return _card_body(render(answer.reply, turn.locale))

    def _send_privately(self, turn: Turn, reply: Reply) -> None:
        """Teams has no ephemeral messages: the clicker's personal chat is the private place."""
        if not turn.user_id:
            return
        self._messaging.send(
            platform=PLATFORM,
            kind="ephemeral",
            destination={"user": turn.user_id, "service_url": turn.service_url},
            reply=reply,
            locale=turn.locale,
            dedupe_key=turn.dedupe_key,
        )


def _typed(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _form_key(turn: Turn) -> str:
    """One declaration per form card and person: pressing Declare twice (or Teams sending the
    invoke again) finds the first incident; a corrected resubmission after an error is the
    first to declare, so it goes through."""
    card = turn.card_id or turn.asker.request_key or ""
    who = hashlib.sha256((turn.user_id or "").encode()).hexdigest()[:12]
    return dedupe_key("form", turn.conversation_id, f"{card[:100]}:{who}")


def _comment_key(turn: Turn, text: str) -> str:
    """One comment per card, person and text: a double click (or Teams sending the invoke
    again) records it once; another comment from the same card is a new one."""
    card = turn.card_id or turn.asker.request_key or ""
    who = hashlib.sha256(f"{turn.user_id or ''}\n{text}".encode()).hexdigest()[:16]
    return dedupe_key("comment", turn.conversation_id, f"{card[:100]}:{who}")


def _form_message(answer: Answer, values: FormState) -> str:
    """Why the form came back, in the form's words where the typed-command wording fits badly."""
    assert answer.error is not None
    key, locale = answer.error.key, answer.locale
    if key == "error.unknown_severity" and not values.severity:
        return t("teams.incident_form.need_severity", locale)
    if key == "usage.incident" and not values.title:
        return t("teams.incident_form.need_title", locale, limit=MAX_TITLE_CHARS)
    if key == NEEDS_COMPONENT:
        return t("teams.incident_form.need_component", locale)
    return answer.reply.text


def _incident_target(text: str) -> IncidentAction | None:
    """The incident command with a number that `text` is (a button on an incident card)."""
    try:
        command = parse(text)
    except LaunchOpsError:
        return None
    if isinstance(command, IncidentAction) and command.incident_id is not None:
        return command
    return None


def _with_outcome(card_reply: Reply, outcome: str) -> Reply:
    """The incident card with what the click did on top (only the clicker sees this copy)."""
    card = card_reply.card
    assert card is not None
    text = "\n".join(part for part in (outcome, card.text) if part)
    return Reply(
        text=f"{outcome} — {card_reply.text}",
        card=card.model_copy(update={"text": text}),
        private=True,
    )


def _card_body(card: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": int(HTTPStatus.OK), "type": ADAPTIVE_CARD_CONTENT_TYPE, "value": card}


def _message_body(text: str) -> dict[str, Any]:
    if len(text) > INVOKE_MESSAGE_LIMIT:
        text = text[: INVOKE_MESSAGE_LIMIT - 1] + "…"
    return {"statusCode": int(HTTPStatus.OK), "type": ACTIVITY_MESSAGE_TYPE, "value": text}


def execute_action(value: Any) -> tuple[str, dict[str, Any]] | None:
    """(verb, data) of an `Action.Execute` invoke, or None when it is not one.

    Teams merges the card's input values into `data`, next to what the card put there.
    """
    if not isinstance(value, dict):
        return None
    action = value.get("action")
    if not isinstance(action, dict) or action.get("type") != "Action.Execute":
        return None
    data = action.get("data")
    if not isinstance(data, dict):
        return None
    verb = action.get("verb") or data.get("action")
    return (verb, data) if isinstance(verb, str) else None


def error_body() -> dict[str, Any]:
    """The Universal Actions error shape; botbuilder's own helper puts an Exception object in
    `value`, which does not serialize, so it is written out here."""
    return {
        "statusCode": int(HTTPStatus.BAD_REQUEST),
        "type": ERROR_TYPE,
        "value": {"code": "BadRequest", "message": "unsupported card action"},
    }
