"""THE Teams renderer: neutral `Reply` → Adaptive Card 1.5 and a Bot Framework message activity.

Every piece of user-influenced text is escaped and every size clipped with the pieces in
card_parts.py (which says why); cards with inputs (the incident form, a button's text box)
are drawn by form_cards.py.
"""

from __future__ import annotations

import base64
from typing import Any

from botbuilder.schema import Activity, ActivityTypes, Attachment, TextFormatTypes

from launchops.adapters.teams.card_parts import (
    ADAPTIVE_CARD_CONTENT_TYPE,
    ADAPTIVE_CARD_SCHEMA,
    ADAPTIVE_CARD_VERSION,
    ATTEMPTS,
    BUTTON_LIMIT,
    CARD_BUDGET_BYTES,
    MAX_ACTIONS,
    TEXT_BUDGET_BYTES,
    Limits,
    clip,
    escape_markdown,
    execute_button,
    json_size,
    link_target,
    summary_text,
)
from launchops.adapters.teams.form_cards import form_card, input_action, input_card
from launchops.adapters.teams.forms import form_state
from launchops.messages.reply import Action, Card, Field, Image, Reply

__all__ = [
    "ADAPTIVE_CARD_CONTENT_TYPE",
    "ADAPTIVE_CARD_SCHEMA",
    "ADAPTIVE_CARD_VERSION",
    "CARD_BUDGET_BYTES",
    "escape_markdown",
    "input_card",
    "render",
    "to_activity",
]


def _fact(field: Field, limits: Limits) -> dict[str, str]:
    value = escape_markdown(clip(field.value, limits.value), line_break=" ")
    target = link_target(field.url)
    if target is not None and len(target) <= 2000:
        value = f"[{value or escape_markdown(field.url or '')}]({target})"
    return {
        "title": escape_markdown(clip(field.label, limits.label), line_break=" "),
        "value": value,
    }


def _action(action: Action, limits: Limits, locale: str) -> dict[str, Any]:
    """A Universal Action (Action.Execute), the text box a button needs (form_cards.py), or
    a link button (Action.OpenUrl) for an action with an http(s) `url`."""
    target = link_target(action.url)
    if target is not None and target.lower().startswith("http"):
        return {"type": "Action.OpenUrl", "title": clip(action.label, BUTTON_LIMIT), "url": target}
    return input_action(action, limits, locale) or execute_button(action, limits)


def _text_blocks(text: str, limit: int, **style: Any) -> list[dict[str, Any]]:
    """One TextBlock per line: exact line breaks in every Teams client, no markdown needed."""
    lines = [escape_markdown(line) for line in clip(text, limit).splitlines()]
    blocks: list[dict[str, Any]] = []
    for line in filter(None, lines):
        block: dict[str, Any] = {"type": "TextBlock", "text": line, "wrap": True, **style}
        if blocks:
            block["spacing"] = "None"
        blocks.append(block)
    return blocks


def _image(image: Image) -> dict[str, Any]:
    """The picture inline as a data URL (no hosting needed); `render` leaves it out when the
    card would not fit Teams' message size with it."""
    data = base64.b64encode(image.png).decode("ascii")
    return {
        "type": "Image",
        "url": f"data:image/png;base64,{data}",
        "altText": clip(image.alt, 250),
        "size": "Stretch",
    }


def _card_body(card: Card, limits: Limits) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": escape_markdown(clip(card.title, limits.title), line_break=" "),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "style": "heading",
        }
    ]
    if card.text:
        body.extend(_text_blocks(card.text, limits.text))
    if card.fields:
        facts = [_fact(f, limits) for f in card.fields[: limits.fields]]
        body.append({"type": "FactSet", "facts": facts})
    if card.image is not None:
        body.append(_image(card.image))
    if card.note:
        notes = _text_blocks(card.note, limits.text, size="Small", isSubtle=True)
        if notes:
            notes[0]["spacing"] = "Medium"
        body.extend(notes)
    return body


def render(reply: Reply, locale: str = "en") -> dict[str, Any]:
    """The Adaptive Card 1.5 for `reply`.

    A reply without a card still gets a card (its text as the only block) so that callers that
    must have a card, such as an `adaptiveCard/action` invoke response, need no special case;
    `to_activity` sends such a reply as plain message text instead.
    The incident form (adapters/teams/forms.py) is recognised here and drawn with its inputs.
    """
    form = form_state(reply)
    if form is not None:
        return form_card(form, reply)
    for limits in ATTEMPTS:
        content = _render(reply, locale, limits)
        if json_size(content) <= CARD_BUDGET_BYTES:
            return content
    if reply.card is not None and reply.card.image is not None:
        return render(
            reply.model_copy(update={"card": reply.card.model_copy(update={"image": None})}), locale
        )
    return content


def _render(reply: Reply, locale: str, limits: Limits) -> dict[str, Any]:
    card = reply.card
    body = _card_body(card, limits) if card else _text_blocks(reply.text, limits.text)
    content: dict[str, Any] = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "lang": locale,
        # an empty reply text still needs something to show
        "body": body or [{"type": "TextBlock", "text": " ", "wrap": True}],
        "fallbackText": summary_text(reply),
        "msteams": {"width": "Full"},
    }
    if card and card.actions:
        content["actions"] = [_action(a, limits, locale) for a in card.actions[:MAX_ACTIONS]]
    return content


def _message_text(text: str) -> str:
    for limits in ATTEMPTS:
        escaped = escape_markdown(clip(text, limits.text))
        if json_size(escaped) <= TEXT_BUDGET_BYTES:
            break
    return escaped


def to_activity(reply: Reply, locale: str = "en") -> Activity:
    """A `message` activity: the card as an attachment, or plain (escaped) text without one.

    With a card, the escaped text goes in `summary` (notification and chat-list preview) rather
    than `text`, because Teams shows a message's `text` above its card and would say it twice.
    """
    if reply.card is None:
        return Activity(
            type=ActivityTypes.message,
            text=_message_text(reply.text),
            text_format=TextFormatTypes.markdown,
        )
    return Activity(
        type=ActivityTypes.message,
        summary=summary_text(reply),
        text_format=TextFormatTypes.markdown,
        attachments=[
            Attachment(content_type=ADAPTIVE_CARD_CONTENT_TYPE, content=render(reply, locale))
        ],
    )
