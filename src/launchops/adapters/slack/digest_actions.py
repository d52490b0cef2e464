"""The weekly digest's follow-up buttons in Slack: Assign (a modal picks the owner, the
component's Responsible team preselected) and Mark reviewed.

Each button's value is the pattern's row id (services/digest_followup.py); the service decides
everything: a value it did not write, or a click by someone who may not act, is refused with
its own private message and changes nothing. Mark reviewed and the modal's submission are
state changes, committed before Slack gets its 200; the answer to the clicker follows the ack
on the click's `response_url` (or ephemerally). A retried click reaches the service twice and
is told "already"; a retried click on Assign opens one modal (one per trigger id).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import structlog
from slack_bolt import Ack, App
from slack_sdk import WebClient

from launchops.adapters.slack.after_ack import AfterAck, RecentKeys
from launchops.adapters.slack.buttons import ButtonReplies, Context, read_click
from launchops.adapters.slack.modals import METADATA_LIMIT, MODAL_TITLE_LIMIT, _input, _plain
from launchops.adapters.slack.payload import text_at, user_of
from launchops.chat.commands import Answer
from launchops.messages.digest_views import ASSIGN, REVIEWED
from launchops.messages.i18n import t
from launchops.messages.reply import Reply
from launchops.services.digest_followup import DigestFollowup, Owner

__all__ = ["ASSIGN_FORM", "DigestActions", "assign_form", "register_digest_actions"]

log = structlog.get_logger(__name__)

ASSIGN_FORM: Final = "digest_assign_form"
OWNER_BLOCK: Final = "digest_owner"
OWNER_ACTION: Final = "digest_owner_select"
MAX_OPTIONS: Final = 100  # Slack's limit for a static_select
_ACTION = re.compile(rf"^(?:{ASSIGN}|{REVIEWED})(:\d+)?$")


@dataclass(frozen=True)
class AssignContext:
    """What the modal's submission needs, in `private_metadata`."""

    pattern: str
    channel: str | None
    response_url: str | None
    locale: str

    def to_metadata(self) -> str:
        data = {
            "pattern": self.pattern,
            "channel": self.channel,
            "response_url": self.response_url,
            "locale": self.locale,
        }
        text = json.dumps(data)
        if len(text) > METADATA_LIMIT:
            data["response_url"] = None
            text = json.dumps(data)
        return text

    @classmethod
    def from_metadata(cls, text: object) -> AssignContext | None:
        if not isinstance(text, str) or len(text) > METADATA_LIMIT:
            return None
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("pattern"), str):
            return None

        def text_of(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        return cls(
            data["pattern"], text_of("channel"), text_of("response_url"), text_of("locale") or "en"
        )


def _option(owner: Owner) -> dict[str, Any]:
    return {"text": _plain(owner.name, 75), "value": owner.value}


def assign_form(
    context: AssignContext, example: str, owners: list[Owner], default: Owner | None
) -> dict[str, Any]:
    """The modal: the pattern's example, and a select of teams and people (default chosen)."""
    locale = context.locale
    options = [_option(o) for o in owners[:MAX_OPTIONS]]
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": OWNER_ACTION,
        "options": options,
    }
    if default is not None and any(o["value"] == default.value for o in options):
        element["initial_option"] = _option(default)
    return {
        "type": "modal",
        "callback_id": ASSIGN_FORM,
        "title": _plain(t("digest.followup.form.title", locale), MODAL_TITLE_LIMIT),
        "submit": _plain(t("digest.followup.form.submit", locale), MODAL_TITLE_LIMIT),
        "close": _plain(t("digest.followup.form.cancel", locale), MODAL_TITLE_LIMIT),
        "private_metadata": context.to_metadata(),
        "blocks": [
            {"type": "section", "text": _plain(f"“{example[:2900]}”", 3000)},
            _input(OWNER_BLOCK, t("digest.followup.form.label", locale), element),
        ],
    }


def read_owner(view: dict[str, Any]) -> str:
    found: object = view
    for key in ("state", "values", OWNER_BLOCK, OWNER_ACTION, "selected_option", "value"):
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, str) else ""


class DigestActions:
    def __init__(
        self,
        followup: DigestFollowup,
        *,
        client: WebClient,
        after_ack: AfterAck,
        seen: RecentKeys | None = None,
    ) -> None:
        self._followup = followup
        self._replies = ButtonReplies(client, after_ack, seen or RecentKeys())

    def register(self, app: App) -> None:
        app.action(_ACTION)(self.on_click)
        app.view(ASSIGN_FORM)(self.on_submit)

    def on_click(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], context: Context
    ) -> None:
        click = read_click(body, action)
        if click is None:
            ack()
            return
        user, value = click.user, click.value
        if click.kind == REVIEWED:
            result = self._followup.review(value, "slack", (user,))
            self._reply(context, user, click.channel, click.response_url, result.reply)
            ack()
            return
        refusal, example, default = self._followup.assign_form(value, "slack", (user,))
        if refusal.ok and click.trigger_id:
            locale = self._followup.locale_of("slack", (user,))
            form = AssignContext(value, click.channel, click.response_url, locale)
            view = assign_form(form, example, self._followup.owners(), default)

            def assign_to_default() -> Answer:
                # No modal (Slack refused it): assign to the default owner, and say so.
                return Answer(self._followup.assign(value, "slack", (user,)).reply, locale)

            self._replies.open_modal_for(
                context, click, view, form="digest_assign", instead=assign_to_default
            )
            ack()
            return
        self._reply(context, user, click.channel, click.response_url, refusal.reply)
        ack()

    def on_submit(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], context: Context
    ) -> None:
        user = user_of(body)
        form = AssignContext.from_metadata(text_at(view, "private_metadata"))
        if user is None or form is None:
            log.warning("slack.digest_submission_unreadable", user=bool(user), form=bool(form))
            ack(
                response_action="errors",
                errors={OWNER_BLOCK: t("slack.unreadable_request", "en")},
            )
            return
        result = self._followup.assign(form.pattern, "slack", (user,), read_owner(view) or None)
        if not result.ok:
            ack(response_action="errors", errors={OWNER_BLOCK: result.reply.text})
            return
        self._reply(context, user, form.channel, form.response_url, result.reply)
        ack()

    def _reply(
        self,
        context: Context,
        user: str,
        channel: str | None,
        response_url: str | None,
        reply: Reply,
    ) -> None:
        locale = self._followup.locale_of("slack", (user,))
        self._replies.reply(context, user, channel, response_url, reply, locale)


def register_digest_actions(
    app: App, client: WebClient, after_ack: AfterAck, followup: DigestFollowup
) -> None:
    """The one line the Slack wiring needs."""
    DigestActions(followup, client=client, after_ack=after_ack).register(app)
