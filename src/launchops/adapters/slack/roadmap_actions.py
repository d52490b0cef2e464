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
from collections.abc import MutableMapping
from dataclasses import replace
from typing import Any, Final

import structlog
from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from launchops.adapters.slack import roadmap_modals as modals
from launchops.adapters.slack.after_ack import AfterAck, RecentKeys
from launchops.adapters.slack.forms import private_destination
from launchops.adapters.slack.payload import channel_of, text_at, user_of
from launchops.adapters.slack.roadmap_modals import RoadmapFormContext
from launchops.chat.commands import Answer, Asker, ChatCore
from launchops.chat.grammar import RoadmapDecision
from launchops.domain.errors import BadCommand
from launchops.messages.i18n import t
from launchops.metrics import CHAT_COMMANDS

__all__ = ["EXTEND", "REQUEST_GATE", "STOP", "RoadmapActions"]

log = structlog.get_logger(__name__)

REQUEST_GATE: Final = "roadmap_request_gate"
EXTEND: Final = "roadmap_extend"
STOP: Final = "roadmap_stop"
_ACTION = re.compile(rf"^(?:{REQUEST_GATE}|{EXTEND}|{STOP})(:\d+)?$")
_VALUE_LIMIT: Final = 200
# The service's refusals of the typed date go beside the date; every other one beside the reason.
_WHEN_ERRORS: Final = ("roadmap.error.bad_date", "roadmap.error.in_past")

Context = MutableMapping[str, Any]


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
        self._client = client
        self._after_ack = after_ack
        self._locale = locale
        self._seen = seen or RecentKeys()

    def register(self, app: App) -> None:
        app.action(_ACTION)(self.on_click)
        app.view(modals.EXTEND_FORM)(self.on_submit)
        app.view(modals.STOP_FORM)(self.on_submit)

    # clicking ----------------------------------------------------------------------------
    def on_click(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], context: Context
    ) -> None:
        user = user_of(body)
        if user is None:  # nobody to decide as, nor to tell
            log.warning("slack.action_without_user", action_id=text_at(action, "action_id"))
            ack()
            return
        kind = (text_at(action, "action_id") or "").split(":", 1)[0]
        channel, response_url = channel_of(body), text_at(body, "response_url")
        trigger_id = text_at(body, "trigger_id")
        asker = Asker(
            platform="slack",
            user_ids=(user,),
            channel=channel,
            request_key=f"slack:action:{trigger_id}" if trigger_id else None,
        )
        value = text_at(action, "value") or ""
        if not value or len(value) > _VALUE_LIMIT:
            log.warning("slack.roadmap_button_forged", action_id=kind)
            answer = self._chat.refuse(BadCommand("chat.roadmap.bad_button"), asker)
        elif kind == REQUEST_GATE:
            answer = self._run(RoadmapDecision("gate", value), asker)
        else:
            refusal = self._chat.roadmap_refusal(kind, value, asker)
            form = RoadmapFormContext(value, channel, response_url, self._locale)
            if refusal is None and trigger_id and self._open(kind, trigger_id, form, asker):
                ack()
                return
            answer = refusal or self._chat.refuse(
                BadCommand("chat.roadmap.form_unavailable"), asker
            )
        self._reply(context, user, channel, response_url, answer)
        ack()

    def _open(self, kind: str, trigger_id: str, form: RoadmapFormContext, asker: Asker) -> bool:
        """views.open once per trigger, in the clicker's language; False when Slack refused."""
        if not self._seen.first_time(f"slack:form:{trigger_id}"):
            return True
        name = "extend" if kind == EXTEND else "stop"
        view = modals.roadmap_form(name, replace(form, locale=self._chat.locale_of(asker)))
        try:
            self._client.views_open(trigger_id=trigger_id, view=view)
        except (SlackApiError, OSError) as exc:
            log.warning("slack.roadmap_form_not_opened", error=type(exc).__name__)
            return False
        return True

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
        view_id = text_at(view, "id") or ""
        asker = Asker(
            platform="slack",
            user_ids=(user,),
            channel=form.channel,
            request_key=f"slack:view:{view_id}" if view_id else None,
        )
        command = RoadmapDecision("extend" if extending else "stop", form.value, when, reason)
        answer = self._run(command, asker)
        if answer.error is not None:
            block = modals.WHEN_BLOCK if answer.error.key in _WHEN_ERRORS else reason_block
            ack(response_action="errors", errors={block: answer.reply.text})
            return
        if view_id and not self._seen.first_time(f"slack:submitted:{view_id}"):
            ack()  # a double-clicked submit: the first one's confirmation says it all
            return
        self._reply(context, user, form.channel, form.response_url, answer)
        ack()

    # helpers -------------------------------------------------------------------------------
    def _run(self, command: RoadmapDecision, asker: Asker) -> Answer:
        answer = self._chat.answer(command, asker)
        CHAT_COMMANDS.labels("slack", "error" if answer.error else "ok").inc()
        return answer

    def _reply(
        self,
        context: Context,
        user: str,
        channel: str | None,
        response_url: str | None,
        answer: Answer,
    ) -> None:
        kind, where = private_destination(user, channel, response_url)
        reply = answer.reply.model_copy(update={"private": True})
        self._after_ack.send(
            context, kind=kind, destination=where, reply=reply, locale=answer.locale
        )
