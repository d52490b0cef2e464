"""Reading a Teams activity: the command text, who asked where, and the conversation
reference the bot needs to speak first later (pages, reminders).

References are keyed by conversation id, by the channel's id for channel posts, and by the
user's ids (`from.id`, `from.aadObjectId`) for personal chats.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Final

from botbuilder.schema import Activity, ChannelAccount

from launchops.chat.commands import Asker

__all__ = [
    "PLATFORM",
    "RUN_COMMAND",
    "Turn",
    "command_text",
    "conversation_reference",
    "dedupe_key",
    "read_turn",
    "reference_keys",
    "strip_bot_mention",
]

PLATFORM: Final = "teams"
RUN_COMMAND: Final = "run_command"  # the action id of our suggestion buttons (chat/views.py)
SHARED_CONVERSATIONS: Final = frozenset({"channel", "groupChat"})
_CHANNEL_ID = re.compile(r"@thread\.(?:tacv2|skype)$")
_AT_TAG = re.compile(r"<at(?:\s[^>]*)?>(.*?)</at>", re.IGNORECASE | re.DOTALL)


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


def tenant_id(activity: Activity) -> str | None:
    conversation = activity.conversation
    if conversation is not None and conversation.tenant_id:
        return str(conversation.tenant_id)
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    return str(tenant["id"]) if isinstance(tenant, dict) and tenant.get("id") else None


def channel_id(activity: Activity) -> str | None:
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
            "tenantId": tenant_id(activity),
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
    channel = channel_id(activity)
    if channel and channel != conversation.id:
        # Posting to the bare channel id starts a new thread there (pages, digests).
        channel_ref = {**reference, "conversation": {**reference["conversation"]}}
        channel_ref["conversation"]["id"] = channel
        channel_ref["conversation"]["conversationType"] = "channel"
        channel_ref.pop("user", None)
        pairs.append((channel, channel_ref))
    if conversation.conversation_type == "personal" and activity.from_property is not None:
        for user_id in (activity.from_property.id, activity.from_property.aad_object_id):
            if user_id:
                pairs.append((str(user_id), reference))
    return pairs


def user_ids(activity: Activity) -> tuple[str, ...]:
    sender = activity.from_property
    if sender is None:
        return ()
    return tuple(str(i) for i in (sender.id, sender.aad_object_id) if i)


def dedupe_key(kind: str, conversation_id: str, activity_id: str | None = None) -> str:
    """`teams:<kind>:<conversation digest>[:<activity id>]`, at most ~60 characters.

    The conversation is part of the key because Teams activity ids are millisecond timestamps,
    unique only within a conversation: two people asking in the same millisecond in different
    chats must both get an answer. It is hashed because conversation ids can be long.
    """
    digest = hashlib.sha256(conversation_id.encode()).hexdigest()[:16]
    return f"teams:{kind}:{digest}" + (f":{activity_id}" if activity_id else "")


@dataclass(frozen=True)
class Turn:
    """What the synchronous part of a turn needs, detached from the botbuilder objects."""

    asker: Asker
    conversation_id: str
    reply_to_id: str
    service_url: str
    locale: str
    dedupe_key: str | None  # None: nothing to recognise a redelivery by
    user_id: str | None = None  # `from.id`: where a private follow-up goes
    card_id: str | None = None  # an invoke's `replyToId`: the message that carried the card
    # This conversation as the sender addresses it: an answer in the turn needs no store read.
    reference: dict[str, Any] = field(default_factory=dict)


def read_turn(activity: Activity, kind: str, default_locale: str) -> Turn:
    """What the synchronous part of a turn needs; `kind` is reply or welcome."""
    conversation = activity.conversation
    conversation_type = conversation.conversation_type if conversation else None
    conversation_id = str(conversation.id) if conversation and conversation.id else ""
    activity_id = str(activity.id or "")
    # One welcome per conversation: Teams sends both conversationUpdate and
    # installationUpdate on install, and may send them again on upgrades.
    per = activity_id if kind == "reply" else None
    key = dedupe_key(kind, conversation_id, per) if per or kind != "reply" else None
    is_invoke = activity.type == "invoke"
    sender = activity.from_property
    return Turn(
        asker=Asker(
            platform=PLATFORM,
            user_ids=user_ids(activity),
            shared=conversation_type in SHARED_CONVERSATIONS,
            # A channel maps to its team (Team.teams_channel): the default for incidents.
            channel=channel_id(activity) or conversation_id or None,
            # A redelivered activity declares nothing twice.
            request_key=dedupe_key("activity", conversation_id, activity_id)
            if conversation_id and activity_id
            else None,
        ),
        conversation_id=conversation_id,
        # A button click (invoke) answers the message that carried the card.
        reply_to_id=str(activity.reply_to_id or activity_id) if is_invoke else activity_id,
        service_url=str(activity.service_url or ""),
        locale=delivery_locale(activity, default_locale),
        dedupe_key=key,
        user_id=str(sender.id) if sender is not None and sender.id else None,
        card_id=str(activity.reply_to_id) if is_invoke and activity.reply_to_id else None,
        reference=conversation_reference(activity),
    )


def delivery_locale(activity: Activity, default_locale: str) -> str:
    """The delivery locale: the Teams client's language when we have it, else the default.

    The reply text itself is already in the asker's catalogue language (ChatCore decides);
    this only labels the card (`lang`).
    """
    client = (activity.locale or "").lower()
    if client.startswith("ko"):
        return "ko"
    if client.startswith("en"):
        return "en"
    return default_locale
