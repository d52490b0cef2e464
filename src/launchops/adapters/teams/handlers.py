"""The Teams turn logic: an incoming activity → the chat core → a reply queued in the outbox.

Nothing here sends to Teams directly. Replies become outbox rows (the dispatcher delivers
them through `TeamsSender`), so a redelivered activity is harmless: the row's dedupe key is
derived from the activity, and the second insert is a no-op; a declaration carries the
activity as its request key, so a redelivery finds the incident it already made. The one
thing answered inline is the HTTP body of an `adaptiveCard/action` invoke, which Teams waits
for and shows to the person who clicked: the refreshed incident card after a button on it,
the incident form again (with the reason) or its confirmation after the form's Declare.
Whatever changes state is committed, with its outbox rows, before the HTTP answer goes back.

Every activity also refreshes the conversation reference the bot needs to speak first later
(pages, reminders): keyed by conversation id, by the channel's id for channel posts, and by
the user's ids (`from.id`, `from.aadObjectId`) for personal chats.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any, Final

import structlog
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ChannelAccount
from starlette.concurrency import run_in_threadpool

from launchops.adapters.teams.forms import (
    FORM_VERB,
    MAX_COMPONENT_CHOICES,
    FormState,
    form_reply,
    submitted,
)
from launchops.adapters.teams.render import ADAPTIVE_CARD_CONTENT_TYPE, render
from launchops.chat.commands import Answer, Asker, ChatCore
from launchops.chat.grammar import DeclareIncident, IncidentAction, IncidentForm, parse
from launchops.domain.errors import LaunchOpsError
from launchops.domain.incidents import MAX_TITLE_CHARS
from launchops.messages.i18n import t
from launchops.messages.reply import Reply
from launchops.services.messaging import MessagingService

__all__ = [
    "ACTIVITY_MESSAGE_TYPE",
    "PLATFORM",
    "RUN_COMMAND",
    "LaunchOpsBot",
    "command_text",
    "conversation_reference",
    "reference_keys",
    "strip_bot_mention",
]

PLATFORM: Final = "teams"
RUN_COMMAND: Final = "run_command"  # the action id of our suggestion buttons (chat/views.py)
ADAPTIVE_CARD_ACTION: Final = "adaptiveCard/action"
ACTIVITY_MESSAGE_TYPE: Final = "application/vnd.microsoft.activity.message"
ERROR_TYPE: Final = "application/vnd.microsoft.error"
INVOKE_MESSAGE_LIMIT: Final = 280
SHARED_CONVERSATIONS: Final = frozenset({"channel", "groupChat"})
_CHANNEL_ID = re.compile(r"@thread\.(?:tacv2|skype)$")
_AT_TAG = re.compile(r"<at(?:\s[^>]*)?>(.*?)</at>", re.IGNORECASE | re.DOTALL)
NEEDS_COMPONENT: Final = "error.incident_needs_component"

log = structlog.get_logger(__name__)


def _props(entity: Any) -> dict[str, Any]:
    props = getattr(entity, "additional_properties", None)
    return props if isinstance(props, dict) else {}


def strip_bot_mention(activity: Activity) -> str:
    """The message text without the bot's own `<at>…</at>` mention.

    Same job as `TurnContext.remove_recipient_mention`, which cannot be used as is: it feeds
    the mention's name to `re.sub` as a pattern and removes that name everywhere in the text
    (so "<at>LaunchOps</at> what is LaunchOps" loses both), and it raises on a mention entity
    without `mentioned`. Here only the exact mention text of the recipient is removed; other
    people's mentions are reduced to their names, so "owns <at>Carol Jones</at>" still reads.
    """
    text = activity.text or ""
    bot_id = activity.recipient.id if activity.recipient else None
    for entity in activity.entities or []:
        if (getattr(entity, "type", "") or "").lower() != "mention":
            continue
        props = _props(entity)
        mentioned = props.get("mentioned")
        mentioned_id = mentioned.get("id") if isinstance(mentioned, dict) else None
        if bot_id and mentioned_id == bot_id:
            name = mentioned.get("name") if isinstance(mentioned, dict) else None
            tag = props.get("text") or (f"<at>{name}</at>" if name else "")
            if tag:
                text = text.replace(str(tag), " ")
    return _AT_TAG.sub(lambda m: m.group(1), text).strip()


def command_text(activity: Activity) -> str | None:
    """What to run for a message: a card button's `run_command` value, else the typed text."""
    value = activity.value
    if isinstance(value, dict) and value.get("action") == RUN_COMMAND:
        command = value.get("value")
        return command if isinstance(command, str) else None
    if activity.text is None:
        return None  # e.g. a card submit we did not make: nothing was asked
    return strip_bot_mention(activity)


def _account(account: ChannelAccount | None) -> dict[str, Any] | None:
    if account is None:
        return None
    fields = {
        "id": account.id,
        "name": account.name,
        "aadObjectId": account.aad_object_id,
        "role": account.role,
    }
    return {k: v for k, v in fields.items() if v}


def _tenant_id(activity: Activity) -> str | None:
    conversation = activity.conversation
    if conversation is not None and conversation.tenant_id:
        return str(conversation.tenant_id)
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    return str(tenant["id"]) if isinstance(tenant, dict) and tenant.get("id") else None


def _channel_id(activity: Activity) -> str | None:
    """The channel's own id ("19:…@thread.tacv2") for a channel post, else None."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    channel = data.get("channel")
    if isinstance(channel, dict) and isinstance(channel.get("id"), str):
        return str(channel["id"])
    conversation_id = activity.conversation.id if activity.conversation else None
    if conversation_id:
        base = str(conversation_id).split(";", 1)[0]
        if _CHANNEL_ID.search(base):
            return base
    return None


def conversation_reference(activity: Activity) -> dict[str, Any]:
    """The ConversationReference of `activity` as Bot Framework wire JSON.

    Built by hand rather than with `TurnContext.get_conversation_reference(...).serialize()`:
    botbuilder-schema spells the tenant key `tenantID` where Teams sends `tenantId`, and the
    per-message `activityId` is left out so the stored row does not change on every message.
    """
    conversation = activity.conversation
    conv: dict[str, Any] = {}
    if conversation is not None:
        conv = {
            "id": conversation.id,
            "conversationType": conversation.conversation_type,
            "isGroup": conversation.is_group,
            "name": conversation.name,
            "tenantId": _tenant_id(activity),
        }
    reference = {
        "user": _account(activity.from_property),
        "bot": _account(activity.recipient),
        "conversation": {k: v for k, v in conv.items() if v is not None},
        "channelId": activity.channel_id,
        "serviceUrl": activity.service_url,
    }
    return {k: v for k, v in reference.items() if v}


def reference_keys(activity: Activity) -> list[tuple[str, dict[str, Any]]]:
    """(key, reference) pairs to remember for `activity`; see the module docstring."""
    reference = conversation_reference(activity)
    conversation = activity.conversation
    if conversation is None or not conversation.id or not activity.service_url:
        return []
    pairs = [(str(conversation.id), reference)]
    channel_id = _channel_id(activity)
    if channel_id and channel_id != conversation.id:
        # Posting to the bare channel id starts a new thread there (pages, digests).
        channel_ref = {**reference, "conversation": {**reference["conversation"]}}
        channel_ref["conversation"]["id"] = channel_id
        channel_ref["conversation"]["conversationType"] = "channel"
        channel_ref.pop("user", None)
        pairs.append((channel_id, channel_ref))
    if conversation.conversation_type == "personal" and activity.from_property is not None:
        for user_id in (activity.from_property.id, activity.from_property.aad_object_id):
            if user_id:
                pairs.append((str(user_id), reference))
    return pairs


def _user_ids(activity: Activity) -> tuple[str, ...]:
    sender = activity.from_property
    if sender is None:
        return ()
    return tuple(str(i) for i in (sender.id, sender.aad_object_id) if i)


def _dedupe_key(kind: str, conversation_id: str, activity_id: str | None = None) -> str:
    """`teams:<kind>:<conversation digest>[:<activity id>]`, at most ~60 characters.

    The conversation is part of the key because Teams activity ids are millisecond timestamps,
    unique only within a conversation: two people asking in the same millisecond in different
    chats must both get an answer. It is hashed because conversation ids can be long.
    """
    digest = hashlib.sha256(conversation_id.encode()).hexdigest()[:16]
    return f"teams:{kind}:{digest}" + (f":{activity_id}" if activity_id else "")


@dataclass(frozen=True)
class _Turn:
    """What the synchronous part of a turn needs, detached from the botbuilder objects."""

    asker: Asker
    conversation_id: str
    reply_to_id: str
    service_url: str
    locale: str
    dedupe_key: str | None  # None: nothing to recognise a redelivery by
    user_id: str | None = None  # `from.id`: where a private follow-up goes
    card_id: str | None = None  # an invoke's `replyToId`: the message that carried the card


class LaunchOpsBot(ActivityHandler):  # type: ignore[misc]  # botbuilder is untyped
    """Teams activities → ChatCore; replies and welcomes go to the outbox.

    `component_choices` lists (id, name) of the components for the incident form; without it
    the form asks for the component's name as text.
    """

    def __init__(
        self,
        *,
        chat: ChatCore,
        messaging: MessagingService,
        default_locale: str,
        component_choices: Callable[[], Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        super().__init__()
        self._chat = chat
        self._messaging = messaging
        self._default_locale = default_locale
        self._component_choices = component_choices or (lambda: ())

    # ActivityHandler hooks --------------------------------------------------------------------
    async def on_turn(self, turn_context: TurnContext) -> None:
        pairs = reference_keys(turn_context.activity)
        if pairs:
            await run_in_threadpool(self._remember, pairs)
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity: Activity = turn_context.activity
        text = command_text(activity)
        if text is None:
            log.info("teams.message_ignored", activity_id=activity.id)
            return
        await run_in_threadpool(self._answer, self._turn(activity, "reply"), text)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        activity: Activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if bot_id and any(getattr(m, "id", None) == bot_id for m in members_added or ()):
            await self._welcome(activity)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._welcome(turn_context.activity)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        """`adaptiveCard/action` (Action.Execute): a card button, or the incident form's submit.

        Teams waits for this response (and shows its card or message to the person who
        clicked), so the work is done, and committed, before answering.
        """
        activity: Activity = turn_context.activity
        if activity.name != ADAPTIVE_CARD_ACTION:
            answer = await super().on_invoke_activity(turn_context)
            if answer is not None and answer.status == HTTPStatus.NOT_IMPLEMENTED:
                # botbuilder's 501 would read as our failure; this bot's cards never send
                # another invoke, so one is a request Teams would not make: a 4xx (§5).
                log.warning("teams.unsupported_invoke", name=str(activity.name)[:100])
                return InvokeResponse(
                    status=int(HTTPStatus.BAD_REQUEST), body={"detail": "unsupported invoke"}
                )
            return answer
        execute = _execute_action(activity.value)
        body: dict[str, Any] | None = None
        if execute is not None:
            verb, data = execute
            turn = self._turn(activity, "reply")
            command = data.get("value")
            if verb == FORM_VERB and data.get("action", FORM_VERB) == FORM_VERB:
                body = await run_in_threadpool(self._submit_form, turn, data)
            elif (
                verb == RUN_COMMAND
                and data.get("action", RUN_COMMAND) == RUN_COMMAND
                and isinstance(command, str)
            ):
                body = await run_in_threadpool(self._click, turn, command)
        if body is None:
            # The Universal Actions error shape; botbuilder's own helper puts an Exception
            # object in `value`, which does not serialize, so it is written out here.
            body = {
                "statusCode": int(HTTPStatus.BAD_REQUEST),
                "type": ERROR_TYPE,
                "value": {"code": "BadRequest", "message": "unsupported card action"},
            }
        return InvokeResponse(status=int(HTTPStatus.OK), body=body)

    # synchronous work (run in the thread pool: the store is synchronous SQLAlchemy) -----------
    def _remember(self, pairs: Iterable[tuple[str, dict[str, Any]]]) -> None:
        for key, reference in pairs:
            self._messaging.remember_conversation(PLATFORM, key, reference)

    def _answer(self, turn: _Turn, text: str) -> Reply:
        """Run `text` and queue the answer as a reply to the message (or card) it came from.

        A declaration is committed inside `ChatCore.answer`, with its pages, before this
        returns, and so before Teams gets its HTTP response (DESIGN.md §5).
        """
        answer = self._chat.answer(text, turn.asker)
        reply = self._form_instead(answer) or answer.reply
        self._queue_reply(turn, reply)
        return reply

    def _queue_reply(self, turn: _Turn, reply: Reply) -> None:
        queued = self._messaging.send(
            platform=PLATFORM,
            kind="respond",
            destination={
                "conversation": turn.conversation_id,
                "reply_to_id": turn.reply_to_id,
                "service_url": turn.service_url,
            },
            reply=reply,
            locale=turn.locale,
            dedupe_key=turn.dedupe_key,
        )
        if queued is None:
            log.info("teams.duplicate_activity", dedupe_key=turn.dedupe_key)

    def _form_instead(self, answer: Answer) -> Reply | None:
        """The incident form, for bare `incident` or for a declaration that names no
        component where the channel belongs to no team (prefilled with what was typed)."""
        command = answer.command
        if isinstance(command, IncidentForm):
            return form_reply(FormState(components=self._choices(), locale=answer.locale))
        if (
            isinstance(command, DeclareIncident)
            and answer.error is not None
            and answer.error.key == NEEDS_COMPONENT
        ):
            return form_reply(
                FormState(
                    severity=command.level,
                    title=command.title,
                    description=command.description or "",
                    components=self._choices(),
                    message=t("teams.incident_form.need_component", answer.locale),
                    locale=answer.locale,
                )
            )
        return None

    def _choices(self) -> tuple[tuple[str, str], ...]:
        """Every component for the form's list, or () (a typed name) when there are too many."""
        try:
            choices = tuple(self._component_choices())
        except Exception:  # the form still works with a typed name
            log.exception("teams.component_choices_failed")
            return ()
        return choices if len(choices) <= MAX_COMPONENT_CHOICES else ()

    def _click(self, turn: _Turn, text: str) -> dict[str, Any]:
        """A `run_command` button, run as the person who clicked it.

        On an incident card the answer is the card itself, refreshed, with the outcome on
        top: Teams shows it in place to the clicker, while the incident service has queued
        the edits of every copy of the card (channel post and pages) for everyone else. A
        refusal ("only responders may…") comes back as a message and the card stays as it
        is. Any other button is answered like a typed message.
        """
        target = _incident_target(text)
        if target is None:
            return _message_body(self._answer(turn, text).text)
        answer = self._chat.answer(target, turn.asker)
        if answer.error is not None:
            return _message_body(answer.reply.text)
        if target.action == "status" or (target.action == "severity" and target.level is None):
            # A question, not a change (e.g. the severity choices): shown in place.
            return _card_body(render(answer.reply, turn.locale))
        current = self._chat.answer(IncidentAction("status", target.incident_id), turn.asker)
        if current.error is not None or current.reply.card is None:
            return _message_body(answer.reply.text)
        if answer.reply.card is not None and answer.reply.card.actions:
            # A follow-up question (who owns the postmortem?): the refreshed card is soon
            # replaced by the service's edit, so the question goes to the clicker's chat too.
            self._send_privately(turn, answer.reply)
        return _card_body(render(_with_outcome(current.reply, answer.reply.text), turn.locale))

    def _submit_form(self, turn: _Turn, data: dict[str, Any]) -> dict[str, Any]:
        """The incident form's Declare: the confirmation replaces the form, or the form comes
        back with what is wrong (and what was typed, so nothing has to be typed again)."""
        values = submitted(data, self._choices())
        asker = replace(turn.asker, request_key=_form_key(turn))
        command = DeclareIncident(
            level=values.severity,
            title=values.title,
            component=values.component or None,
            description=values.description or None,
        )
        answer = self._chat.answer(command, asker)
        if answer.error is not None:
            form = replace(values, message=_form_message(answer, values), locale=answer.locale)
            return _card_body(render(form_reply(form), turn.locale))
        if turn.card_id:
            # The invoke's card replaces the form only for the person who pressed Declare;
            # the edit replaces it for everyone, so nobody declares the same thing again.
            self._messaging.send(
                platform=PLATFORM,
                kind="update",
                destination={
                    "conversation": turn.conversation_id,
                    "activity_id": turn.card_id,
                    "service_url": turn.service_url,
                },
                reply=answer.reply,
                locale=turn.locale,
                dedupe_key=f"{asker.request_key}:done",
            )
        return _card_body(render(answer.reply, turn.locale))

    def _send_privately(self, turn: _Turn, reply: Reply) -> None:
        """Teams has no ephemeral messages: the clicker's personal chat is the private place."""
        if not turn.user_id:
            return
        self._messaging.send(
            platform=PLATFORM,
            kind="ephemeral",
            destination={"user": turn.user_id, "service_url": turn.service_url},
            reply=reply,
            locale=turn.locale,
            dedupe_key=turn.dedupe_key,
        )

    def _send_welcome(self, turn: _Turn) -> None:
        # The help card is the welcome: it says what the bot does, in the installer's language.
        reply = self._chat.handle("help", turn.asker)
        self._messaging.send(
            platform=PLATFORM,
            kind="post",
            destination={"conversation": turn.conversation_id, "service_url": turn.service_url},
            reply=reply,
            locale=turn.locale,
            dedupe_key=turn.dedupe_key,
        )

    # helpers ----------------------------------------------------------------------------------
    async def _welcome(self, activity: Activity) -> None:
        turn = self._turn(activity, "welcome")
        if not turn.conversation_id or not turn.service_url:
            return
        await run_in_threadpool(self._send_welcome, turn)

    def _turn(self, activity: Activity, kind: str) -> _Turn:
        conversation = activity.conversation
        conversation_type = conversation.conversation_type if conversation else None
        conversation_id = str(conversation.id) if conversation and conversation.id else ""
        activity_id = str(activity.id or "")
        # One welcome per conversation: Teams sends both conversationUpdate and
        # installationUpdate on install, and may send them again on upgrades.
        per = activity_id if kind == "reply" else None
        dedupe_key = _dedupe_key(kind, conversation_id, per) if per or kind != "reply" else None
        is_invoke = activity.type == "invoke"
        sender = activity.from_property
        return _Turn(
            asker=Asker(
                platform=PLATFORM,
                user_ids=_user_ids(activity),
                shared=conversation_type in SHARED_CONVERSATIONS,
                # A channel maps to its team (Team.teams_channel): the default for incidents.
                channel=_channel_id(activity) or conversation_id or None,
                # A redelivered activity declares nothing twice.
                request_key=_dedupe_key("activity", conversation_id, activity_id)
                if conversation_id and activity_id
                else None,
            ),
            conversation_id=conversation_id,
            # A button click (invoke) answers the message that carried the card.
            reply_to_id=str(activity.reply_to_id or activity_id) if is_invoke else activity_id,
            service_url=str(activity.service_url or ""),
            locale=self._locale(activity),
            dedupe_key=dedupe_key,
            user_id=str(sender.id) if sender is not None and sender.id else None,
            card_id=str(activity.reply_to_id) if is_invoke and activity.reply_to_id else None,
        )

    def _locale(self, activity: Activity) -> str:
        """The delivery locale: the Teams client's language when we have it, else the default.

        The reply text itself is already in the asker's catalogue language (ChatCore decides);
        this only labels the card (`lang`).
        """
        client = (activity.locale or "").lower()
        if client.startswith("ko"):
            return "ko"
        if client.startswith("en"):
            return "en"
        return self._default_locale


def _form_key(turn: _Turn) -> str:
    """One declaration per form card and person: pressing Declare twice (or Teams sending the
    invoke again) finds the first incident; a corrected resubmission after an error is the
    first to declare, so it goes through."""
    card = turn.card_id or turn.asker.request_key or ""
    who = hashlib.sha256((turn.user_id or "").encode()).hexdigest()[:12]
    return _dedupe_key("form", turn.conversation_id, f"{card[:100]}:{who}")


def _form_message(answer: Answer, values: FormState) -> str:
    """Why the form came back, in the form's words where the typed-command wording fits badly."""
    assert answer.error is not None
    key, locale = answer.error.key, answer.locale
    if key == "error.unknown_severity" and not values.severity:
        return t("teams.incident_form.need_severity", locale)
    if key == "usage.incident" and not values.title:
        return t("teams.incident_form.need_title", locale, limit=MAX_TITLE_CHARS)
    if key == NEEDS_COMPONENT:
        return t("teams.incident_form.need_component", locale)
    return answer.reply.text


def _incident_target(text: str) -> IncidentAction | None:
    """The incident command with a number that `text` is (a button on an incident card)."""
    try:
        command = parse(text)
    except LaunchOpsError:
        return None
    if isinstance(command, IncidentAction) and command.incident_id is not None:
        return command
    return None


def _with_outcome(card_reply: Reply, outcome: str) -> Reply:
    """The incident card with what the click did on top (only the clicker sees this copy)."""
    card = card_reply.card
    assert card is not None
    text = "\n".join(part for part in (outcome, card.text) if part)
    return Reply(
        text=f"{outcome} — {card_reply.text}",
        card=card.model_copy(update={"text": text}),
        private=True,
    )


def _card_body(card: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": int(HTTPStatus.OK), "type": ADAPTIVE_CARD_CONTENT_TYPE, "value": card}


def _message_body(text: str) -> dict[str, Any]:
    if len(text) > INVOKE_MESSAGE_LIMIT:
        text = text[: INVOKE_MESSAGE_LIMIT - 1] + "…"
    return {"statusCode": int(HTTPStatus.OK), "type": ACTIVITY_MESSAGE_TYPE, "value": text}


def _execute_action(value: Any) -> tuple[str, dict[str, Any]] | None:
    """(verb, data) of an `Action.Execute` invoke, or None when it is not one.

    Teams merges the card's input values into `data`, next to what the card put there.
    """
    if not isinstance(value, dict):
        return None
    action = value.get("action")
    if not isinstance(action, dict) or action.get("type") != "Action.Execute":
        return None
    data = action.get("data")
    if not isinstance(data, dict):
        return None
    verb = action.get("verb") or data.get("action")
    return (verb, data) if isinstance(verb, str) else None
