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
from launchops.adapters.slack.payload import channel_of, text_at, user_of
from launchops.chat.commands import Answer, Asker, ChatCore
from launchops.chat.grammar import Help, IncidentAction, IncidentForm, Owns, WhoOwns, parse
from launchops.domain.errors import BadCommand
from launchops.messages.i18n import t
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
    def __init__(
        self,
        *,
        chat: ChatCore,
        messaging: MessagingService,
        forms: IncidentForms,
        locale: str = "en",
    ):
        self._chat = chat
        self._messaging = messaging
        self._forms = forms
        self._locale = locale  # for refusals that come before we know who is asking

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
        prefix = SLASH_PREFIXES.get(text_at(command, "command") or "", "")
        text = f"{prefix} {text_at(command, 'text') or ''}".strip()
        user, channel = text_at(command, "user_id"), text_at(command, "channel_id")
        trigger_id = text_at(command, "trigger_id")
        response_url = text_at(command, "response_url")
        if user is None or response_url is None:
            # Slack always sends both; without them we can neither attribute nor answer.
            log.warning(
                "slack.command_incomplete", user=bool(user), response_url=bool(response_url)
            )
            ack(text=t("slack.unreadable_request", self._locale))
            return
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

    def _event_answer(
        self, body: dict[str, Any], event: dict[str, Any], user: str, *, shared: bool
    ) -> Answer:
        asker = Asker(
            platform="slack",
            user_ids=(user,),
            shared=shared,
            channel=text_at(event, "channel"),
            request_key=f"slack:event:{body.get('event_id')}",
        )
        answer = self._answer(text_at(event, "text") or "", asker)
        prefill = form_prefill(answer)
        if prefill is None:
            return answer
        # An event carries no trigger_id to open a modal with: offer a button that does.
        return Answer(self._forms.offer(answer, prefill), answer.locale)

    @staticmethod
    def _author(event: dict[str, Any]) -> tuple[str, str] | None:
        """(user, channel) of a person's message; None (and a warning) when either is absent:
        there is nobody to answer, or nowhere to answer them."""
        user, channel = text_at(event, "user"), text_at(event, "channel")
        if user is None or channel is None:
            log.warning("slack.event_incomplete", event_type=text_at(event, "type"))
            return None
        return user, channel

    def on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        author = self._author(event)
        if author is None:
            return
        user, channel = author
        if not self._messaging.first_time(f"slack:event:{body.get('event_id')}"):
            log.info("slack.duplicate_event", event_id=body.get("event_id"))
            return
        answer = self._event_answer(body, event, user, shared=True)
        thread_ts = text_at(event, "thread_ts") or text_at(event, "ts")
        destination = {"channel": channel, "thread_ts": thread_ts}
        if answer.reply.private:
            destination["user"] = user
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
        author = self._author(event)
        if author is None:
            return
        user, channel = author
        if not self._messaging.first_time(f"slack:event:{body.get('event_id')}"):
            return
        answer = self._event_answer(body, event, user, shared=False)
        self._messaging.send(
            platform="slack",
            kind="post",
            destination={"channel": channel, "thread_ts": text_at(event, "thread_ts")},
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
        user = user_of(body)
        if user is None:  # nobody to run it as, nor to tell
            log.warning("slack.action_without_user", action_id=text_at(action, "action_id"))
            ack()
            return
        text = text_at(action, "value") or ""
        channel = channel_of(body)
        trigger_id = text_at(body, "trigger_id")
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
        kind, where = private_destination(user, channel, text_at(body, "response_url"))
        self._messaging.send(
            platform="slack",
            kind=kind,
            destination=where,
            reply=answer.reply,
            locale=answer.locale,
            dedupe_key=f"slack:action:{text_at(body, 'container', 'message_ts')}:"
            f"{text_at(action, 'action_ts')}",
        )
        if not acked:
            ack()
