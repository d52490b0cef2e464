"""The roadmap nudge's buttons in Slack: Request gate, Extend (a modal asks a new date and a
reason), Stop (a modal asks the reason).

Each button's value is `<project_id>:<stage>:<clock version>` (messages/roadmap_views.py).
The roadmap service decides everything: a value it did not write, one about another
project's stage or an older clock, or a click by someone neither owner nor sponsor is
refused with its own private message and changes nothing. Extend and Stop ask the service
first (`check`, which writes nothing), so nobody types a reason in vain; the modal's
submission is the decision, and an empty reason or date keeps the modal open
(`response_action: errors`).

Request gate is a decision (DESIGN.md §5): committed with its outbox rows (the approvers'
DMs) before Slack gets its 200; the answer to the clicker follows on the `response_url`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Final

import structlog
from slack_bolt import Ack, App
from slack_sdk import WebClient

from launchops.adapters.slack import roadmap_modals as modals
from launchops.adapters.slack.after_ack import AfterAck, RecentKeys
from launchops.adapters.slack.buttons import (
    ButtonReplies,
    Context,
    read_click,
    run,
    submitter,
)
from launchops.adapters.slack.payload import text_at, user_of
from launchops.adapters.slack.roadmap_modals import RoadmapFormContext
from launchops.chat.commands import Answer, ChatCore
from launchops.chat.grammar import RoadmapDecision
from launchops.domain.errors import BadCommand
from launchops.messages.i18n import t

__all__ = ["EXTEND", "REQUEST_GATE", "STOP", "RoadmapActions"]

log = structlog.get_logger(__name__)

REQUEST_GATE: Final = "roadmap_request_gate"
EXTEND: Final = "roadmap_extend"
STOP: Final = "roadmap_stop"
_ACTION = re.compile(rf"^(?:{REQUEST_GATE}|{EXTEND}|{STOP})(:\d+)?$")
_VALUE_LIMIT: Final = 200
# The service's refusals of the typed date go beside the date; every other one beside the reason.
_WHEN_ERRORS: Final = ("roadmap.error.bad_date", "roadmap.error.in_past")


class RoadmapActions:
    def __init__(
        self,
        *,
        chat: ChatCore,
        client: WebClient,
        after_ack: AfterAck,
        locale: str = "en",
        seen: RecentKeys | None = None,
    ) -> None:
        self._chat = chat
        self._locale = locale
        self._replies = ButtonReplies(client, after_ack, seen or RecentKeys())

    def register(self, app: App) -> None:
        app.action(_ACTION)(self.on_click)
        app.view(modals.EXTEND_FORM)(self.on_submit)
        app.view(modals.STOP_FORM)(self.on_submit)

    # clicking ----------------------------------------------------------------------------
    def on_click(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], context: Context
    ) -> None:
        click = read_click(body, action)
        if click is None:
            ack()
            return
        asker, value = click.asker, click.value
        if not value or len(value) > _VALUE_LIMIT:
            log.warning("slack.roadmap_button_forged", action_id=click.kind)
            answer = self._chat.refuse(BadCommand("chat.roadmap.bad_button"), asker)
        elif click.kind == REQUEST_GATE:
            answer = run(self._chat, RoadmapDecision("gate", value), asker)
        else:
            refusal = self._chat.roadmap_refusal(click.kind, value, asker)
            form = RoadmapFormContext(value, click.channel, click.response_url, self._locale)
            unavailable = BadCommand("chat.roadmap.form_unavailable")
            if refusal is None and click.trigger_id:
                name = "extend" if click.kind == EXTEND else "stop"
                view = modals.roadmap_form(name, replace(form, locale=self._chat.locale_of(asker)))
                self._replies.open_modal_for(
                    context,
                    click,
                    view,
                    form=name,
                    instead=lambda: self._chat.refuse(unavailable, asker),
                )
                ack()
                return
            answer = refusal or self._chat.refuse(unavailable, asker)
        self._reply(context, click.user, click.channel, click.response_url, answer)
        ack()

    # submitting --------------------------------------------------------------------------
    def on_submit(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], context: Context
    ) -> None:
        user = user_of(body)
        form = RoadmapFormContext.from_metadata(text_at(view, "private_metadata"))
        reason_block = modals.REASON_BLOCK
        if user is None or form is None:  # Slack never sends these: not our modal
            log.warning("slack.roadmap_submission_unreadable", user=bool(user), form=bool(form))
            ack(
                response_action="errors",
                errors={reason_block: t("slack.unreadable_request", self._locale)},
            )
            return
        extending = text_at(view, "callback_id") == modals.EXTEND_FORM
        when = modals.read_input(view, modals.WHEN_BLOCK) if extending else None
        reason = modals.read_input(view, reason_block)
        errors = {}
        if extending and not when:
            errors[modals.WHEN_BLOCK] = t("slack.roadmap_form.need_when", form.locale)
        if not reason:
            errors[reason_block] = t("slack.roadmap_form.need_reason", form.locale)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        command = RoadmapDecision("extend" if extending else "stop", form.value, when, reason)
        answer = run(self._chat, command, submitter(user, form.channel, view))
        if answer.error is not None:
            block = modals.WHEN_BLOCK if answer.error.key in _WHEN_ERRORS else reason_block
            ack(response_action="errors", errors={block: answer.reply.text})
            return
        if not self._replies.first_submission(view):
            ack()  # a double-clicked submit: the first one's confirmation says it all
            return
        self._reply(context, user, form.channel, form.response_url, answer)
        ack()

    def _reply(
        self,
        context: Context,
        user: str,
        channel: str | None,
        response_url: str | None,
        answer: Answer,
    ) -> None:
        self._replies.reply(context, user, channel, response_url, answer.reply, answer.locale)
