"""What every card button and its modal share in Slack, whatever feature posted the card:
reading who clicked (and so as whom to act), opening a modal once per trigger (a retried
click must not open a second one) after the ack, and answering the clicker privately after
the ack.

Features (gate_actions.py, roadmap_actions.py, digest_actions.py) keep only what is theirs:
which command a click or a submission runs, and which modal asks for its text.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import structlog
from slack_sdk import WebClient

from launchops.adapters.slack.after_ack import AfterAck, ModalOpener, RecentKeys
from launchops.adapters.slack.forms import private_destination
from launchops.adapters.slack.payload import channel_of, text_at, user_of
from launchops.chat.commands import Answer, Asker, ChatCore
from launchops.chat.grammar import Command
from launchops.messages.reply import Reply
from launchops.metrics import CHAT_COMMANDS

__all__ = ["ButtonReplies", "Click", "Context", "read_click", "run", "submitter"]

log = structlog.get_logger(__name__)

Context = MutableMapping[str, Any]
Refusal = Callable[[], Answer]  # what to say when a modal cannot be opened


@dataclass(frozen=True)
class Click:
    user: str
    kind: str  # the action id without the `:<n>` a message adds to repeat one
    value: str
    channel: str | None
    response_url: str | None
    trigger_id: str | None

    @property
    def asker(self) -> Asker:
        """Acting as the person who clicked; the trigger makes a Slack retry the same request."""
        return Asker(
            platform="slack",
            user_ids=(self.user,),
            channel=self.channel,
            request_key=f"slack:action:{self.trigger_id}" if self.trigger_id else None,
        )


def read_click(body: dict[str, Any], action: dict[str, Any]) -> Click | None:
    """The click, or None (and a warning) when nobody is named: nobody to act as, nor to tell."""
    user = user_of(body)
    action_id = text_at(action, "action_id") or ""
    if user is None:
        log.warning("slack.action_without_user", action_id=action_id)
        return None
    return Click(
        user=user,
        kind=action_id.split(":", 1)[0],
        value=text_at(action, "value") or "",
        channel=channel_of(body),
        response_url=text_at(body, "response_url"),
        trigger_id=text_at(body, "trigger_id"),
    )


def submitter(user: str, channel: str | None, view: dict[str, Any]) -> Asker:
    """Acting as the person who submitted a modal: one view is one request, so a
    double-clicked submit finds the first one's work."""
    view_id = text_at(view, "id") or ""
    return Asker(
        platform="slack",
        user_ids=(user,),
        channel=channel,
        request_key=f"slack:view:{view_id}" if view_id else None,
    )


def run(chat: ChatCore, command: Command, asker: Asker) -> Answer:
    answer = chat.answer(command, asker)
    CHAT_COMMANDS.labels("slack", "error" if answer.error else "ok").inc()
    return answer


class ButtonReplies:
    def __init__(self, client: WebClient, after_ack: AfterAck, seen: RecentKeys) -> None:
        self._after_ack = after_ack
        self._seen = seen
        self._modals = ModalOpener(client, seen)

    def open_modal_for(
        self, context: Context, click: Click, view: dict[str, Any], *, form: str, instead: Refusal
    ) -> None:
        """The modal `click` asked for, after the ack; if Slack refuses it, `instead()`'s
        answer goes to the clicker alone."""
        assert click.trigger_id, "only a click with a trigger can open a modal"

        def say_instead() -> None:
            found = instead()
            channel, url = click.channel, click.response_url
            self.reply(None, click.user, channel, url, found.reply, found.locale)

        self._modals.open(context, click.trigger_id, view, form=form, otherwise=say_instead)

    def first_submission(self, view: dict[str, Any]) -> bool:
        """False for a double-clicked submit already answered by this process."""
        view_id = text_at(view, "id") or ""
        return not view_id or self._seen.first_time(f"slack:submitted:{view_id}")

    def reply(
        self,
        context: Context | None,
        user: str,
        channel: str | None,
        response_url: str | None,
        reply: Reply,
        locale: str,
    ) -> None:
        """To the clicker alone: on the click's response_url, else ephemeral or a DM; after
        the ack, or at once with `context` None (a modal's `otherwise`, already after it)."""
        kind, where = private_destination(user, channel, response_url)
        self._after_ack.send(
            context,
            kind=kind,
            destination=where,
            reply=reply.model_copy(update={"private": True}),
            locale=locale,
        )
