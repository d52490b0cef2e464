"""Slack listeners: ack at once, then run the command and queue the answer in the outbox.

Bolt (with process_before_response=False) sends the HTTP response as soon as `ack()` is
called and lets the listener finish on its executor thread, which is how every command stays
well inside Slack's 3-second limit however slow the store is.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from slack_bolt import Ack, App

from launchops.chat.commands import Asker, ChatCore
from launchops.chat.reply import Reply
from launchops.metrics import CHAT_COMMANDS
from launchops.services.messaging import MessagingService

log = structlog.get_logger(__name__)

# Each slash command is the grammar's first word(s), so `/owner rag` == `owner rag`.
SLASH_PREFIXES = {"/owner": "owner", "/launchops": ""}
_RUN_COMMAND = re.compile(r"^run_command(:\d+)?$")


class SlackHandlers:
    def __init__(self, *, chat: ChatCore, messaging: MessagingService) -> None:
        self._chat = chat
        self._messaging = messaging

    def register(self, app: App) -> None:
        for command in SLASH_PREFIXES:
            app.command(command)(self.on_slash_command)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.action(_RUN_COMMAND)(self.on_run_command)

    def _answer(self, text: str, user: str, *, shared: bool) -> Reply:
        reply = self._chat.handle(text, Asker(platform="slack", user_ids=(user,), shared=shared))
        CHAT_COMMANDS.labels(
            "slack", "error" if reply.private and reply.card is None else "ok"
        ).inc()
        return reply

    def on_slash_command(self, ack: Ack, command: dict[str, Any]) -> None:
        ack()
        prefix = SLASH_PREFIXES.get(command.get("command", ""), "")
        text = f"{prefix} {command.get('text', '')}".strip()
        reply = self._answer(text, command["user_id"], shared=False)
        self._messaging.send(
            platform="slack",
            kind="respond",
            destination={
                "response_url": command["response_url"],
                "private": True,
                "channel": command.get("channel_id"),
                "user": command["user_id"],
            },
            reply=reply,
            dedupe_key=f"slack:command:{command.get('trigger_id') or command['response_url']}",
        )

    def on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if not self._messaging.first_time(f"slack:event:{body.get('event_id')}"):
            log.info("slack.duplicate_event", event_id=body.get("event_id"))
            return
        reply = self._answer(event.get("text", ""), event["user"], shared=True)
        thread_ts = event.get("thread_ts") or event.get("ts")
        destination = {"channel": event["channel"], "thread_ts": thread_ts}
        if reply.private:
            destination["user"] = event["user"]
        self._messaging.send(
            platform="slack",
            kind="ephemeral" if reply.private else "post",
            destination=destination,
            reply=reply,
            dedupe_key=f"slack:reply:{body.get('event_id')}",
        )

    def on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        # Only direct messages from people; channel chatter and bot echoes are not for us.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        if not self._messaging.first_time(f"slack:event:{body.get('event_id')}"):
            return
        reply = self._answer(event.get("text", ""), event["user"], shared=False)
        self._messaging.send(
            platform="slack",
            kind="post",
            destination={"channel": event["channel"], "thread_ts": event.get("thread_ts")},
            reply=reply,
            dedupe_key=f"slack:reply:{body.get('event_id')}",
        )

    def on_run_command(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        reply = self._answer(str(action.get("value", "")), user, shared=False)
        self._messaging.send(
            platform="slack",
            kind="respond",
            destination={"response_url": body["response_url"], "private": True},
            reply=reply,
            dedupe_key=f"slack:action:{body.get('container', {}).get('message_ts')}:"
            f"{action.get('action_ts')}",
        )
