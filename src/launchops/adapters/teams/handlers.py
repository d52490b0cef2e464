"""The Teams turn logic: an incoming activity → the chat core → a reply queued in the outbox.

Nothing here sends to Teams directly. Replies become outbox rows (the dispatcher delivers
them through `TeamsSender`), so a redelivered activity is harmless: the row's dedupe key is
derived from the activity, and the second insert is a no-op. The one thing answered inline is
the HTTP body of an `adaptiveCard/action` invoke, which Teams waits for.

Every activity also refreshes the conversation reference the bot needs to speak first later
(pages, reminders): keyed by conversation id, by the channel's id for channel posts, and by
the user's ids (`from.id`, `from.aadObjectId`) for personal chats.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

import structlog
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ChannelAccount
from starlette.concurrency import run_in_threadpool

from launchops.chat.commands import Asker, ChatCore
from launchops.chat.reply import Reply
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


class LaunchOpsBot(ActivityHandler):  # type: ignore[misc]  # botbuilder is untyped
    """Teams activities → ChatCore; replies and welcomes go to the outbox."""

    def __init__(self, *, chat: ChatCore, messaging: MessagingService, default_locale: str) -> None:
        super().__init__()
        self._chat = chat
        self._messaging = messaging
        self._default_locale = default_locale

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
        if bot_id and any(member.id == bot_id for member in members_added):
            await self._welcome(activity)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._welcome(turn_context.activity)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        activity: Activity = turn_context.activity
        if activity.name != ADAPTIVE_CARD_ACTION:
            return await super().on_invoke_activity(turn_context)
        command = _execute_command(activity.value)
        if command is None:
            # The Universal Actions error shape; botbuilder's own helper puts an Exception
            # object in `value`, which does not serialize, so it is written out here.
            return InvokeResponse(
                status=int(HTTPStatus.OK),
                body={
                    "statusCode": int(HTTPStatus.BAD_REQUEST),
                    "type": ERROR_TYPE,
                    "value": {"code": "BadRequest", "message": "unsupported card action"},
                },
            )
        reply = await run_in_threadpool(self._answer, self._turn(activity, "reply"), command)
        message = reply.text
        if len(message) > INVOKE_MESSAGE_LIMIT:
            message = message[: INVOKE_MESSAGE_LIMIT - 1] + "…"
        return InvokeResponse(
            status=int(HTTPStatus.OK),
            body={
                "statusCode": int(HTTPStatus.OK),
                "type": ACTIVITY_MESSAGE_TYPE,
                "value": message,
            },
        )

    # synchronous work (run in the thread pool: the store is synchronous SQLAlchemy) -----------
    def _remember(self, pairs: Iterable[tuple[str, dict[str, Any]]]) -> None:
        for key, reference in pairs:
            self._messaging.remember_conversation(PLATFORM, key, reference)

    def _answer(self, turn: _Turn, text: str) -> Reply:
        reply = self._chat.handle(text, turn.asker)
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
        return reply

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
        return _Turn(
            asker=Asker(
                platform=PLATFORM,
                user_ids=_user_ids(activity),
                shared=conversation_type in SHARED_CONVERSATIONS,
            ),
            conversation_id=conversation_id,
            # A button click (invoke) answers the message that carried the card.
            reply_to_id=str(activity.reply_to_id or activity_id)
            if activity.type == "invoke"
            else activity_id,
            service_url=str(activity.service_url or ""),
            locale=self._locale(activity),
            dedupe_key=dedupe_key,
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


def _execute_command(value: Any) -> str | None:
    """The command text of an `Action.Execute` invoke from one of our buttons, or None."""
    if not isinstance(value, dict):
        return None
    action = value.get("action")
    if not isinstance(action, dict) or action.get("type") != "Action.Execute":
        return None
    data = action.get("data")
    if not isinstance(data, dict):
        return None
    verb = action.get("verb") or data.get("action")
    command = data.get("value")
    if verb != RUN_COMMAND or data.get("action", RUN_COMMAND) != RUN_COMMAND:
        return None
    return command if isinstance(command, str) else None
