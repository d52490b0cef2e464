"""THE Slack renderer: neutral `Reply` → Block Kit.

User text is escaped (`&`, `<`, `>`), which is what Slack documents as sufficient to stop
`<!channel>`, `<@U…>` and link syntax; we never set `link_names` or `parse=full`, so a bare
`@here` stays text. Block Kit limits (header 150, text 3,000, field 2,000, button 75, ten
fields a section) are applied here so an oversized value can never make Slack reject a page.
"""

from __future__ import annotations

import re
from typing import Any

from launchops.messages.reply import Action, Card, Field, Reply

HEADER_LIMIT = 150
TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
BUTTON_LIMIT = 75
URL_LIMIT = 3000
FALLBACK_LIMIT = 3000
FIELDS_PER_SECTION = 10
_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field_text(field: Field) -> str:
    value = escape(field.value)
    if field.url and _SAFE_URL.match(field.url):
        value = f"<{field.url}|{value}>"
    return _clip(f"*{escape(field.label)}*\n{value}", FIELD_LIMIT)


def _button(action: Action, index: int) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": f"{action.id}:{index}",
        "text": {"type": "plain_text", "text": _clip(action.label, BUTTON_LIMIT), "emoji": True},
        "value": action.value[:2000],
    }
    if action.style != "default":
        button["style"] = action.style
    if action.url and len(action.url) <= URL_LIMIT and _SAFE_URL.match(action.url):
        button["url"] = action.url  # a link button: Slack opens it (and still sends a click)
    return button


def card_blocks(card: Card) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(card.title, HEADER_LIMIT), "emoji": True},
        }
    ]
    if card.text:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(escape(card.text), TEXT_LIMIT)},
            }
        )
    for start in range(0, len(card.fields), FIELDS_PER_SECTION):
        chunk = card.fields[start : start + FIELDS_PER_SECTION]
        blocks.append(
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": _field_text(f)} for f in chunk],
            }
        )
    if card.note:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _clip(escape(card.note), TEXT_LIMIT)}],
            }
        )
    if card.actions:
        blocks.append(
            {
                "type": "actions",
                "elements": [_button(a, i) for i, a in enumerate(card.actions[:25])],
            }
        )
    return blocks


def render(reply: Reply) -> dict[str, Any]:
    """The `text` and `blocks` arguments for chat.postMessage and friends."""
    message: dict[str, Any] = {"text": _clip(escape(reply.text), FALLBACK_LIMIT)}
    if reply.card is not None:
        message["blocks"] = card_blocks(reply.card)
    return message
