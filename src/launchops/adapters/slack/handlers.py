"""Slack listeners: run the command and answer in the ack itself whenever Slack shows it.

The bolt App runs with process_before_response=True: Slack gets its HTTP 200 only when the
listener returns. So a declaration or decision (`/incident p1 …`, a mention that declares, an
Acknowledge click) is committed, with the outbox rows that page people, before Slack hears
back (DESIGN.md §5): a crash once Slack has its 200 loses nothing. The answer to the person
is never an outbox row: a slash command's rides in the ack body (ephemeral Block Kit), and
a question writes nothing at all. Slack shows nothing of a click's or an event's ack body,
so those answers are one direct Web API call made after the ack (after_ack.py).

Slack redelivers an event with the same `event_id` (and a command with the same
`trigger_id`); those ids become the request key the incident service de-duplicates
declarations on, so a redelivery declares nothing twice, and a redelivered event seen by
this process is not answered twice either.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

import structlog
from slack_bolt import Ack, App

from launchops.adapters.slack.after_ack import AfterAck, RecentKeys
from launchops.adapters.slack.buttons import read_click
from launchops.adapters.slack.forms import (
    IncidentForms,
    form_prefill,
    private_destination,
)
from launchops.adapters.slack.gate_actions import GateActions
from launchops.adapters.slack.modals import FormContext
from launchops.adapters.slack.payload import text_at
from launchops.adapters.slack.render import render
from launchops.chat.commands import Answer, Asker, ChatCore
from launchops.messages.i18n import t
from launchops.metrics import CHAT_COMMANDS

log = structlog.get_logger(__name__)

# Each slash command is the grammar's first word(s), so `/owner rag` == `owner rag`.
SLASH_PREFIXES = {"/owner": "owner", "/incident": "incident", "/gate": "gate", "/launchops": ""}
# One listener for all of them: bolt runs every listener's matchers, in registration order,
# until one matches, and each matcher call builds its keyword arguments (~15 µs).
_SLASH_COMMANDS = re.compile(r"\A(?:" + "|".join(map(re.escape, SLASH_PREFIXES)) + r")\Z")
_RUN_COMMAND = re.compile(r"^run_command(:\d+)?$")

Context = MutableMapping[str, Any]


class SlackHandlers:
    def __init__(
        self,
        *,
        chat: ChatCore,
        forms: IncidentForms,
        after_ack: AfterAck,
        locale: str = "en",
        seen: RecentKeys | None = None,
        gates: GateActions | None = None,
    ):
        self._chat = chat
        self._forms = forms
        self._gates = gates  # the stage-gate buttons and modals (gate_actions.py)
        self._after_ack = after_ack
        self._locale = locale  # for refusals that come before we know who is asking
        self._seen = seen or RecentKeys()

    def register(self, app: App) -> None:
        app.command(_SLASH_COMMANDS)(self.on_slash_command)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.action(_RUN_COMMAND)(self.on_run_command)
        self._forms.register(app)
        if self._gates is not None:
            self._gates.register(app)

    def _answer(self, text: str, asker: Asker) -> Answer:
        answer = self._chat.answer(text, asker)
        CHAT_COMMANDS.labels("slack", "error" if answer.error else "ok").inc()
        return answer

    def on_slash_command(
        self, ack: Ack, command: dict[str, Any], context: MutableMapping[str, Any]
    ) -> None:
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
        answer = self._answer(text, asker)
        prefill = form_prefill(answer)
        if prefill is not None and trigger_id:
            # The form opens after the ack; if Slack refuses it, the offer of a button that
            # opens it follows on the command's response_url instead.
            offer = self._forms.offer(answer, prefill)
            self._forms.open(
                context,
                trigger_id,
                FormContext(channel, response_url, answer.locale),
                prefill,
                otherwise=lambda: self._forms.answer_privately(
                    user, channel, response_url, offer, answer.locale
                ),
            )
            ack()
            return
        # The answer is the ack body: Slack shows it to the asker alone.
        ack(response_type="ephemeral", **render(answer.reply))

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

    def on_mention(self, body: dict[str, Any], event: dict[str, Any], context: Context) -> None:
        author = self._author(event)
        if author is None:
            return
        user, channel = author
        if not self._seen.first_time(f"slack:event:{body.get('event_id')}"):
            log.info("slack.duplicate_event", event_id=body.get("event_id"))
            return
        answer = self._event_answer(body, event, user, shared=True)
        thread_ts = text_at(event, "thread_ts") or text_at(event, "ts")
        destination = {"channel": channel, "thread_ts": thread_ts}
        if answer.reply.private:
            destination["user"] = user
        self._after_ack.send(
            context,
            kind="ephemeral" if answer.reply.private else "post",
            destination=destination,
            reply=answer.reply,
            locale=answer.locale,
        )

    def on_message(self, body: dict[str, Any], event: dict[str, Any], context: Context) -> None:
        # Only direct messages from people; channel chatter and bot echoes are not for us.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        author = self._author(event)
        if author is None:
            return
        user, channel = author
        if not self._seen.first_time(f"slack:event:{body.get('event_id')}"):
            return
        answer = self._event_answer(body, event, user, shared=False)
        self._after_ack.send(
            context,
            kind="post",
            destination={"channel": channel, "thread_ts": text_at(event, "thread_ts")},
            reply=answer.reply,
            locale=answer.locale,
        )

    def on_run_command(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], context: Context
    ) -> None:
        """A card button (`incident ack 12`, `who owns rag`), run as the person who clicked.

        Each click is its own request: a double click runs twice, and the incident service's
        compare-and-set makes the second find the first one's work done ("already
        acknowledged by …"), which is what that person is told.
        """
        click = read_click(body, action)
        if click is not None:
            answer = self._answer(click.value, click.asker)
            kind, where = private_destination(click.user, click.channel, click.response_url)
            self._after_ack.send(
                context, kind=kind, destination=where, reply=answer.reply, locale=answer.locale
            )
        ack()
