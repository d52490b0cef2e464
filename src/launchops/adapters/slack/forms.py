"""The incident form in Slack: opening the modal, its component type-ahead, its submission.

The modal is opened with a direct views.open call rather than through the outbox: the
`trigger_id` it needs expires three seconds after the click or command, far sooner than any
retry could help, and opening a form changes nothing that could be lost. Like every call to
Slack from a listener, it is made after the ack (after_ack.py). The submission is a
declaration, so it follows DESIGN.md §5: the incident and its pages are committed before the
request is acknowledged (which is what closes the modal); the confirmation to the person
follows the ack as one direct call (after_ack.py), like every answer Slack does not show in
an ack body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from typing import Any, Final

import structlog
from slack_bolt import Ack, App
from slack_sdk import WebClient

from launchops.adapters.slack import modals
from launchops.adapters.slack.after_ack import AfterAck, ModalOpener, RecentKeys
from launchops.adapters.slack.modals import FormContext, Prefill
from launchops.adapters.slack.payload import channel_of, text_at, user_of
from launchops.chat.commands import Answer, Asker, ChatCore
from launchops.chat.grammar import DeclareIncident, IncidentForm
from launchops.messages.i18n import t
from launchops.messages.reply import Action, Card, Reply
from launchops.metrics import CHAT_COMMANDS
from launchops.services.ownership import OwnershipService

__all__ = ["OPEN_FORM", "IncidentForms", "form_prefill", "private_destination"]

log = structlog.get_logger(__name__)

OPEN_FORM: Final = "open_incident_form"  # the action id of the "Open the incident form" button
_OPEN_FORM_ACTION = re.compile(rf"^{OPEN_FORM}(:\d+)?$")
NEEDS_COMPONENT: Final = "error.incident_needs_component"


def form_prefill(answer: Answer) -> Prefill | None:
    """The form to offer instead of the reply: bare `incident`, or a declaration that names
    no component in a channel that belongs to no team. None when the reply says it all."""
    if isinstance(answer.command, IncidentForm):
        return Prefill()
    error = answer.error
    if error is not None and error.key == NEEDS_COMPONENT:
        level, title = error.params.get("level"), error.params.get("title")
        return Prefill(
            level if isinstance(level, str) else None, title if isinstance(title, str) else None
        )
    return None


def private_destination(
    user: str, channel: str | None, response_url: str | None
) -> tuple[str, dict[str, Any]]:
    """(outbox kind, destination) for a reply only `user` should see.

    A response_url works even where the bot is not a channel member; an ephemeral message
    needs a channel (DMs with the bot have none to show it in); a DM always works.
    """
    if response_url:
        return "respond", {"response_url": response_url, "private": True}
    if channel and channel[:1] in ("C", "G"):
        return "ephemeral", {"channel": channel, "user": user}
    return "dm", {"user": user}


class IncidentForms:
    def __init__(
        self,
        *,
        chat: ChatCore,
        ownership: OwnershipService,
        client: WebClient,
        after_ack: AfterAck,
        seen: RecentKeys | None = None,
    ) -> None:
        self._chat = chat
        self._ownership = ownership
        self._after_ack = after_ack
        self._seen = seen or RecentKeys()
        self._modals = ModalOpener(client, self._seen)

    def register(self, app: App) -> None:
        app.options(modals.COMPONENT_ACTION)(self.on_component_options)
        app.view(modals.INCIDENT_FORM)(self.on_submit)
        app.action(_OPEN_FORM_ACTION)(self.on_open_button)

    # opening ---------------------------------------------------------------------------
    def open(
        self,
        bolt_context: MutableMapping[str, Any],
        trigger_id: str,
        form: FormContext,
        prefill: Prefill,
        *,
        otherwise: Callable[[], None],
    ) -> None:
        """The form, once per trigger (a redelivered command must not open a second one),
        after the ack; `otherwise` answers in text when Slack refuses it."""
        view = modals.incident_form(form.locale, form, prefill)
        self._modals.open(bolt_context, trigger_id, view, form="incident", otherwise=otherwise)

    @staticmethod
    def offer(answer: Answer, prefill: Prefill) -> Reply:
        """The reply with a button that opens the form: for mentions and DMs, which carry no
        trigger_id to open a modal with, and when views.open failed."""
        locale = answer.locale
        reason = (
            answer.reply.text
            if answer.error is not None and answer.error.key == NEEDS_COMPONENT
            else t("slack.incident_form.unavailable", locale)
        )
        button = Action(
            id=OPEN_FORM,
            label=t("slack.incident_form.open", locale),
            value=prefill.to_value(locale),
            style="primary",
        )
        return Reply(
            text=reason,
            private=True,
            card=Card(
                title=t("slack.incident_form.title", locale),
                text=t("slack.incident_form.fill_in", locale, reason=reason),
                actions=(button,),
            ),
        )

    def on_open_button(
        self,
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: MutableMapping[str, Any],
    ) -> None:
        ack()
        user, trigger_id = user_of(body), text_at(body, "trigger_id")
        if user is None or trigger_id is None:
            log.warning("slack.form_button_incomplete", user=bool(user), trigger=bool(trigger_id))
            return
        channel, response_url = channel_of(body), text_at(body, "response_url")
        prefill, locale = Prefill.from_value(text_at(action, "value"))
        unavailable = Reply(text=t("slack.incident_form.unavailable", locale), private=True)
        self.open(
            context,
            trigger_id,
            FormContext(channel, response_url, locale),
            prefill,
            otherwise=lambda: self.answer_privately(
                user, channel, response_url, unavailable, locale
            ),
        )

    def answer_privately(
        self, user: str, channel: str | None, response_url: str | None, reply: Reply, locale: str
    ) -> None:
        """`reply` to `user` alone, at once: what a refused form says instead, after the ack."""
        kind, where = private_destination(user, channel, response_url)
        self._after_ack.send(None, kind=kind, destination=where, reply=reply, locale=locale)

    # the component type-ahead ----------------------------------------------------------
    def on_component_options(self, ack: Ack, payload: dict[str, Any]) -> None:
        query = (text_at(payload, "value") or "")[:200]
        try:
            choices = self._ownership.search_components(query)
        except Exception:  # the store is down: an empty list beats Slack's error banner
            log.exception("slack.component_options_failed")
            choices = []
        ack(options=modals.component_options(choices))

    # submitting --------------------------------------------------------------------------
    def on_submit(
        self,
        ack: Ack,
        body: dict[str, Any],
        view: dict[str, Any],
        context: MutableMapping[str, Any],
    ) -> None:
        user = user_of(body)
        form = FormContext.from_metadata(text_at(view, "private_metadata"))
        if user is None:  # Slack names the submitter always; we cannot declare for nobody
            log.warning("slack.submission_without_user", view_id=text_at(view, "id"))
            errors = {modals.TITLE_BLOCK: t("slack.unreadable_request", form.locale)}
            ack(response_action="errors", errors=errors)
            return
        values = modals.read_form(view)
        missing = modals.missing_fields(values, form.locale)
        if missing:
            ack(response_action="errors", errors=missing)
            return
        assert values.level is not None  # missing_fields said so
        assert values.component is not None
        command = DeclareIncident(
            level=values.level,
            title=values.title,
            component=values.component,
            description=values.description,
        )
        view_id = text_at(view, "id") or ""
        asker = Asker(
            platform="slack",
            user_ids=(user,),
            channel=form.channel,
            # One view is one declaration: a double-clicked Declare finds the first one.
            request_key=f"slack:view:{view_id}" if view_id else None,
        )
        answer = self._chat.answer(command, asker)
        CHAT_COMMANDS.labels("slack", "error" if answer.error else "ok").inc()
        if answer.error is not None:
            block = modals.block_for_error(answer.error.key)
            ack(response_action="errors", errors={block: answer.reply.text})
            return
        if view_id and not self._seen.first_time(f"slack:submitted:{view_id}"):
            ack()  # a double-clicked Declare: the first submission's confirmation says it all
            return
        kind, where = private_destination(user, form.channel, form.response_url)
        self._after_ack.send(
            context, kind=kind, destination=where, reply=answer.reply, locale=answer.locale
        )
        ack()
