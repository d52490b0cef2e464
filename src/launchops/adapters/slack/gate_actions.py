"""The stage-gate buttons in Slack: Approve, Reject (a modal asks the reason), Comment (a modal).

Each button's value is `<request id>:<evidence version>` (messages/gate_views.py). A value
the bot did not write (garbled, or not two numbers) gets a private refusal and changes
nothing; a well-formed one is handed to the chat core as a typed command, so the gate
service decides who may act: a request that does not exist, or one the clicker is no
approver of, is refused with its own message, again with no state change.

An approval is a decision (DESIGN.md §5): committed, with its outbox rows, before Slack gets
its 200; the answer to the clicker follows the ack on the click's `response_url`. A double
click or a Slack retry reaches the service twice, which records one decision per person and
evidence version and tells the second click "already recorded". A rejection's modal is
opened with a direct views.open (its trigger expires in three seconds); its submission is
the decision, and an empty reason keeps the modal open (`response_action: errors`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Final

import structlog
from slack_bolt import Ack, App
from slack_sdk import WebClient

from launchops.adapters.slack import gate_modals
from launchops.adapters.slack.after_ack import AfterAck, RecentKeys
from launchops.adapters.slack.buttons import (
    ButtonReplies,
    Context,
    read_click,
    run,
    submitter,
)
from launchops.adapters.slack.gate_modals import ButtonValue, GateFormContext
from launchops.adapters.slack.payload import text_at, user_of
from launchops.chat.commands import Answer, ChatCore
from launchops.chat.grammar import CommentGate, DecideGate
from launchops.domain.errors import BadCommand
from launchops.messages.i18n import t

__all__ = ["APPROVE", "COMMENT", "REJECT", "GateActions"]

log = structlog.get_logger(__name__)

APPROVE: Final = "gate_approve"
REJECT: Final = "gate_reject"
COMMENT: Final = "gate_comment"
# A message may repeat an action id with a suffix (`gate_approve:2`), as run_command does.
_ACTION = re.compile(rf"^(?:{APPROVE}|{REJECT}|{COMMENT})(:\d+)?$")


class GateActions:
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
        app.view(gate_modals.REJECT_FORM)(self.on_submit)
        app.view(gate_modals.COMMENT_FORM)(self.on_submit)

    # clicking ----------------------------------------------------------------------------
    def on_click(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], context: Context
    ) -> None:
        click = read_click(body, action)
        if click is None:
            ack()
            return
        asker = click.asker
        value = ButtonValue.parse(click.value)
        if value is None:
            log.warning("slack.gate_button_forged", action_id=click.kind)
            answer = self._chat.refuse(BadCommand("gate.error.bad_button"), asker)
        elif click.kind == APPROVE:
            command = DecideGate(value.request_id, "approve", evidence_version=value.version)
            answer = run(self._chat, command, asker)
        else:
            # Reject and Comment ask for text first: a modal, whose submission acts; unless
            # the service would refuse this person anyway (say so now, not after typing).
            refusal = self._chat.gate_refusal(
                value.request_id, asker, comment=click.kind == COMMENT, version=value.version
            )
            form = GateFormContext(
                value.request_id, value.version, click.channel, click.response_url, self._locale
            )
            unavailable = BadCommand("slack.gate_form.unavailable", id=value.request_id)
            if refusal is None and click.trigger_id:
                name = "reject" if click.kind == REJECT else "comment"
                view = gate_modals.gate_form(
                    name, replace(form, locale=self._chat.locale_of(asker))
                )
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
        form = GateFormContext.from_metadata(text_at(view, "private_metadata"))
        block = gate_modals.TEXT_BLOCK
        if user is None or form is None:  # Slack never sends these: not our modal
            log.warning("slack.gate_submission_unreadable", user=bool(user), form=bool(form))
            ack(
                response_action="errors",
                errors={block: t("slack.unreadable_request", self._locale)},
            )
            return
        rejecting = text_at(view, "callback_id") == gate_modals.REJECT_FORM
        text = gate_modals.read_text(view)
        if not text:
            need = "slack.gate_form.need_reason" if rejecting else "slack.gate_form.need_comment"
            ack(response_action="errors", errors={block: t(need, form.locale)})
            return
        command = (
            DecideGate(form.request_id, "reject", text, evidence_version=form.version)
            if rejecting
            else CommentGate(form.request_id, text)
        )
        answer = run(self._chat, command, submitter(user, form.channel, view))
        if answer.error is not None:
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
