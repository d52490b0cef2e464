"""Slack listeners: run the command, acknowledge within Slack's 3 seconds, queue the answer.

The bolt App runs with process_before_response=True: Slack gets its HTTP 200 only when the
listener returns. So every declaration or decision (`/incident p1 …`, a mention that
declares, an Acknowledge click) is committed, with the outbox rows that page people and the
reply to the person, before Slack hears back (DESIGN.md §5): a crash once Slack has its 200
loses nothing. Sending is the work done after, by the outbox dispatcher. Listeners still call
`ack()` where bolt needs it; for a question (`/owner rag`) that is done first, for a decision
after the commit. Both stay far inside the 3 seconds (see `make bench`).

Slack redelivers a slash command with the same `trigger_id` (and an event with the same
`event_id`); those ids become the request key the incident service de-duplicates declarations
on and the dedupe key of the reply, so a redelivery declares nothing and answers nothing twice.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from slack_bolt import Ack, App

from launchops.adapters.slack.forms import (
    IncidentForms,
    form_prefill,
    private_destination,
)
from launchops.adapters.slack.modals import FormContext
from launchops.chat.commands import Answer, Asker, ChatCore
from launchops.chat.grammar import Help, IncidentAction, IncidentForm, Owns, WhoOwns, parse
from launchops.domain.errors import BadCommand
from launchops.metrics import CHAT_COMMANDS
from launchops.services.messaging import MessagingService

log = structlog.get_logger(__name__)

# Each slash command is the grammar's first word(s), so `/owner rag` == `owner rag`.
SLASH_PREFIXES = {"/owner": "owner", "/incident": "incident", "/launchops": ""}
_RUN_COMMAND = re.compile(r"^run_command(:\d+)?$")


def answers_only(text: str) -> bool:
    """True when `text` changes nothing (a question, a form request, or unreadable input),
    so it may be acknowledged before it runs. Anything else, including commands added later,
    is treated as a decision and committed before the ack."""
    try:
        command = parse(text)
    except BadCommand:
        return True
    if isinstance(command, Help | WhoOwns | Owns | IncidentForm):
        return True
    if isinstance(command, IncidentAction):
        return command.action == "status" or (
            command.action == "severity" and command.level is None
        )
    return False


class SlackHandlers:
    def __init__(self, *, chat: ChatCore, messaging: MessagingService, forms: IncidentForms):
        self._chat = chat
        self._messaging = messaging
        self._forms = forms

    def register(self, app: App) -> None:
        for command in SLASH_PREFIXES:
            app.command(command)(self.on_slash_command)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.action(_RUN_COMMAND)(self.on_run_command)
        self._forms.register(app)

    def _answer(self, text: str, asker: Asker) -> Answer:
        answer = self._chat.answer(text, asker)
        CHAT_COMMANDS.labels("slack", "error" if answer.error else "ok").inc()
        return answer

    def on_slash_command(self, ack: Ack, command: dict[str, Any]) -> None:
        prefix = SLASH_PREFIXES.get(command.get("command", ""), "")
        text = f"{prefix} {command.get('text', '')}".strip()
        user, channel = command["user_id"], command.get("channel_id")
        trigger_id = command.get("trigger_id")
        response_url = command["response_url"]
        asker = Asker(
            platform="slack",
            user_ids=(user,),
            channel=channel,
            request_key=f"slack:trigger:{trigger_id}" if trigger_id else None,
        )
        acked = answers_only(text)
        if acked:
            ack()
        answer = self._answer(text, asker)
        prefill = form_prefill(answer)
        if prefill is not None and trigger_id:
            if not acked:
                ack()
            context = FormContext(channel, response_url, answer.locale)
            if self._forms.open(trigger_id, answer.locale, context, prefill):
                return
            answer = Answer(self._forms.offer(answer, prefill), answer.locale)
        self._messaging.send(
            platform="slack",
            kind="respond",
            destination={
                "response_url": response_url,
                "private": True,
                "channel": channel,
                "user": user,
            },
            reply=answer.reply,
            locale=answer.locale,
            dedupe_key=f"slack:command:{trigger_id or response_url}",
        )
        if not acked:
            ack()

    def _event_answer(self, body: dict[str, Any], event: dict[str, Any], *, shared: bool) -> Answer:
        asker = Asker(
            platform="slack",
            user_ids=(event["user"],),
            shared=shared,
            channel=event.get("channel"),
            request_key=f"slack:event:{body.get('event_id')}",
        )
        answer = self._answer(event.get("text", ""), asker)
        prefill = form_prefill(answer)
        if prefill is None:
            return answer
        # An event carries no trigger_id to open a modal with: offer a button that does.
        return Answer(self._forms.offer(answer, prefill), answer.locale)

    def on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if not self._messaging.first_time(f"slack:event:{body.get('event_id')}"):
            log.info("slack.duplicate_event", event_id=body.get("event_id"))
            return
        answer = self._event_answer(body, event, shared=True)
        thread_ts = event.get("thread_ts") or event.get("ts")
        destination = {"channel": event["channel"], "thread_ts": thread_ts}
        if answer.reply.private:
            destination["user"] = event["user"]
        self._messaging.send(
            platform="slack",
            kind="ephemeral" if answer.reply.private else "post",
            destination=destination,
            reply=answer.reply,
            locale=answer.locale,
            dedupe_key=f"slack:reply:{body.get('event_id')}",
        )

    def on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        # Only direct messages from people; channel chatter and bot echoes are not for us.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        if not self._messaging.first_time(f"slack:event:{body.get('event_id')}"):
            return
        answer = self._event_answer(body, event, shared=False)
        self._messaging.send(
            platform="slack",
            kind="post",
            destination={"channel": event["channel"], "thread_ts": event.get("thread_ts")},
            reply=answer.reply,
            locale=answer.locale,
            dedupe_key=f"slack:reply:{body.get('event_id')}",
        )

    def on_run_command(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A card button (`incident ack 12`, `who owns rag`), run as the person who clicked.

        Each click is its own request: a double click runs twice, and the incident service's
        compare-and-set makes the second find the first one's work done ("already
        acknowledged by …"), which is what that person is told.
        """
        user = body["user"]["id"]
        text = str(action.get("value", ""))
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        trigger_id = body.get("trigger_id")
        asker = Asker(
            platform="slack",
            user_ids=(user,),
            channel=channel,
            request_key=f"slack:action:{trigger_id}" if trigger_id else None,
        )
        acked = answers_only(text)
        if acked:
            ack()
        answer = self._answer(text, asker)
        kind, where = private_destination(user, channel, body.get("response_url"))
        self._messaging.send(
            platform="slack",
            kind=kind,
            destination=where,
            reply=answer.reply,
            locale=answer.locale,
            dedupe_key=f"slack:action:{(body.get('container') or {}).get('message_ts')}:"
            f"{action.get('action_ts')}",
        )
        if not acked:
            ack()
