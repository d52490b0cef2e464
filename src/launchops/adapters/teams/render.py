"""THE Teams renderer: neutral `Reply` → Adaptive Card 1.5 and a Bot Framework message activity.

Teams renders a subset of markdown in TextBlocks, FactSets and message text, so every piece of
user-influenced text is escaped here: a component called `[click](http://evil)` or a title of
`<at>everyone</at>` must come out as the characters the user typed, never as a link, a
mention or formatting. Backslash escapes are CommonMark's own and are honoured by the Teams
renderers; `<`, `>` and `&` are escaped too, so neither an `<at>` tag nor an HTML entity
survives. Button titles are not markdown and stay plain.

Sizes are clipped because Teams refuses a whole message over 28 KB (MessageSizeTooBig), and a
page that fails to deliver is worse than one with a shortened line: a card over budget is
rendered again with tighter limits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import quote, urlsplit

from botbuilder.schema import Activity, ActivityTypes, Attachment, TextFormatTypes

from launchops.adapters.teams.forms import (
    ACTION_INPUTS,
    FORM_VERB,
    ActionInput,
    FormState,
    form_state,
)
from launchops.domain.incidents import LEVELS, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS
from launchops.messages.i18n import t
from launchops.messages.reply import Action, Card, Field, Reply

__all__ = [
    "ADAPTIVE_CARD_CONTENT_TYPE",
    "ADAPTIVE_CARD_SCHEMA",
    "ADAPTIVE_CARD_VERSION",
    "escape_markdown",
    "input_card",
    "render",
    "to_activity",
]

ADAPTIVE_CARD_CONTENT_TYPE: Final = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA: Final = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_VERSION: Final = "1.5"

# Teams refuses a message over 28 KB (MessageSizeTooBig). The card gets most of it; the
# summary and the activity envelope the rest. Sizes are measured as JSON with \uXXXX escapes,
# the worst case of how a client may encode non-ASCII text.
CARD_BUDGET_BYTES: Final = 22 * 1024
TEXT_BUDGET_BYTES: Final = 22 * 1024
SUMMARY_LIMIT: Final = 250
BUTTON_LIMIT: Final = 75
MAX_ACTIONS: Final = 6  # Teams shows at most six actions on a card


@dataclass(frozen=True)
class _Limits:
    """Character limits for one rendering attempt; later attempts are tighter."""

    title: int
    text: int
    label: int
    value: int
    fields: int
    action_value: int


_ATTEMPTS: Final = (
    _Limits(title=300, text=4000, label=200, value=1000, fields=30, action_value=1000),
    _Limits(title=200, text=1500, label=100, value=300, fields=20, action_value=500),
    _Limits(title=100, text=500, label=50, value=100, fields=10, action_value=200),
)
_STYLES: Final = {"primary": "positive", "danger": "destructive"}
# Markdown syntax characters (links, emphasis, headings, quotes, lists, code, strikethrough,
# tables) plus `<`, `>` (tags such as <at>) and `&` (HTML entities such as &lt;at&gt;).
_MARKDOWN_SPECIAL = re.compile(r"([\\*_\[\]()#>+\-`~|<&!])")
# `1.` or `1)` at the start of a line opens an ordered list; `=` can underline a heading.
_ORDERED_MARKER = re.compile(r"^(\d+)([.)])")
_LINK_SCHEMES: Final = frozenset({"http", "https", "mailto"})
# What may stay unencoded in a markdown link destination: no spaces, parentheses, brackets or
# angle brackets, which would end the destination early or open a new construct.
_URL_SAFE: Final = "/:?#@!$&'*+,;=%-._~"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape_line(line: str) -> str:
    # Leading whitespace would make an indented code block out of four spaces.
    line = _MARKDOWN_SPECIAL.sub(r"\\\1", line.strip())
    line = _ORDERED_MARKER.sub(r"\1\\\2", line)
    if line.startswith("="):
        line = "\\" + line
    return line


def escape_markdown(text: str, *, line_break: str = "\n\n") -> str:
    """`text` as literal characters in Teams markdown; its lines joined with `line_break`.

    Teams collapses a single newline inside a markdown paragraph, so lines are joined with a
    blank line by default; pass `" "` to fold a multi-line value into one line.
    """
    lines = [_escape_line(line) for line in text.splitlines()]
    return line_break.join(line for line in lines if line)


def _link_target(url: str | None) -> str | None:
    """`url` percent-encoded for a markdown link, or None unless it is http(s) or mailto."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    if scheme not in _LINK_SCHEMES:
        return None
    return quote(url.strip(), safe=_URL_SAFE)


def _json_size(value: Any) -> int:
    return len(json.dumps(value))


def _fact(field: Field, limits: _Limits) -> dict[str, str]:
    value = escape_markdown(_clip(field.value, limits.value), line_break=" ")
    target = _link_target(field.url)
    if target is not None and len(target) <= 2000:
        value = f"[{value or escape_markdown(field.url or '')}]({target})"
    return {
        "title": escape_markdown(_clip(field.label, limits.label), line_break=" "),
        "value": value,
    }


def _execute(action: Action, limits: _Limits, title: str | None = None) -> dict[str, Any]:
    """A Universal Action: Teams sends an `adaptiveCard/action` invoke carrying `data`."""
    rendered: dict[str, Any] = {
        "type": "Action.Execute",
        "title": _clip(title or action.label, BUTTON_LIMIT),
        "verb": action.id,
        "data": {"action": action.id, "value": action.value[: limits.action_value]},
    }
    if action.style in _STYLES:
        rendered["style"] = _STYLES[action.style]
    return rendered


def _text_input(spec: ActionInput, locale: str, value: str = "") -> dict[str, Any]:
    box: dict[str, Any] = {
        "type": "Input.Text",
        "id": spec.id,
        "label": spec.text("label", locale),
        "placeholder": spec.text("placeholder", locale),
        "isMultiline": True,
        "isRequired": True,
        "maxLength": spec.max_length,
        "errorMessage": spec.text("required", locale),
    }
    if value:
        box["value"] = value[: spec.max_length]
    return box


def _action(action: Action, limits: _Limits, locale: str) -> dict[str, Any]:
    """The button; one that needs words first (forms.ACTION_INPUTS) opens a required text box
    on the card with the button that sends it, which Teams merges into the invoke's `data`."""
    spec = ACTION_INPUTS.get(action.id)
    if spec is None:
        return _execute(action, limits)
    return {
        "type": "Action.ShowCard",
        "title": _clip(action.label, BUTTON_LIMIT),
        "card": {
            "type": "AdaptiveCard",
            "body": [_text_input(spec, locale)],
            "actions": [_execute(action, limits, spec.text("submit", locale))],
        },
    }


def input_card(
    title: str, action: Action, message: str, typed: str = "", locale: str = "en"
) -> dict[str, Any]:
    """The text box of `action` (forms.ACTION_INPUTS) on a card of its own, with `message` on
    top: what an invoke answers when the text was refused, so it can be put right."""
    spec = ACTION_INPUTS[action.id]
    limits = _ATTEMPTS[0]
    notice = escape_markdown(_clip(message, limits.text), line_break=" ")
    return {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "lang": locale,
        "body": [
            {
                "type": "TextBlock",
                "text": escape_markdown(_clip(title, limits.title), line_break=" "),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "style": "heading",
            },
            {"type": "TextBlock", "text": notice, "wrap": True, "color": "Attention"},
            _text_input(spec, locale, typed),
        ],
        "actions": [_execute(action, limits, spec.text("submit", locale))],
        "fallbackText": notice,
        "msteams": {"width": "Full"},
    }


def _text_blocks(text: str, limit: int, **style: Any) -> list[dict[str, Any]]:
    """One TextBlock per line: exact line breaks in every Teams client, no markdown needed."""
    lines = [escape_markdown(line) for line in _clip(text, limit).splitlines()]
    blocks: list[dict[str, Any]] = []
    for line in filter(None, lines):
        block: dict[str, Any] = {"type": "TextBlock", "text": line, "wrap": True, **style}
        if blocks:
            block["spacing"] = "None"
        blocks.append(block)
    return blocks


def _card_body(card: Card, limits: _Limits) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": escape_markdown(_clip(card.title, limits.title), line_break=" "),
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
        return _form_card(form, reply)
    for limits in _ATTEMPTS:
        content = _render(reply, locale, limits)
        if _json_size(content) <= CARD_BUDGET_BYTES:
            break
    return content


def _render(reply: Reply, locale: str, limits: _Limits) -> dict[str, Any]:
    card = reply.card
    body = _card_body(card, limits) if card else _text_blocks(reply.text, limits.text)
    content: dict[str, Any] = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "lang": locale,
        # an empty reply text still needs something to show
        "body": body or [{"type": "TextBlock", "text": " ", "wrap": True}],
        "fallbackText": _summary(reply),
        "msteams": {"width": "Full"},
    }
    if card and card.actions:
        content["actions"] = [_action(a, limits, locale) for a in card.actions[:MAX_ACTIONS]]
    return content


def _form_card(form: FormState, reply: Reply) -> dict[str, Any]:
    """The incident form; with too many (or too long) component names for one message, the
    component is asked for as typed text (matched by id, name or alias) instead of a list."""
    content = _form_content(form, reply)
    if form.components and _json_size(content) > CARD_BUDGET_BYTES:
        content = _form_content(replace(form, components=()), reply)
    return content


def _form_content(form: FormState, reply: Reply) -> dict[str, Any]:
    locale = form.locale

    def text(key: str, **params: Any) -> str:
        return t(f"teams.incident_form.{key}", locale, **params)

    heading = reply.card.title if reply.card else text("title")
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": escape_markdown(_clip(heading, _ATTEMPTS[0].title), line_break=" "),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "style": "heading",
        }
    ]
    if form.message:
        # What was wrong with the last attempt: it may quote the user's input, so escaped.
        notice = escape_markdown(_clip(form.message, _ATTEMPTS[0].text), line_break=" ")
        body.append({"type": "TextBlock", "text": notice, "wrap": True, "color": "Attention"})
    else:
        intro = escape_markdown(text("intro"), line_break=" ")
        body.append({"type": "TextBlock", "text": intro, "wrap": True, "isSubtle": True})
    severity: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "id": "severity",
        "label": text("severity"),
        "style": "compact",
        "isRequired": True,
        "errorMessage": text("need_severity"),
        "placeholder": text("severity_placeholder"),
        "choices": [
            {
                "title": text(
                    "severity_option",
                    level=level.upper(),
                    meaning=t(f"teams.severity.{level}", locale),
                ),
                "value": level,
            }
            for level in LEVELS
        ],
    }
    if form.severity in LEVELS:
        severity["value"] = form.severity
    component: dict[str, Any]
    if form.components:
        component = {
            "type": "Input.ChoiceSet",
            "id": "component",
            "label": text("component"),
            # Teams' typeahead: type to narrow the list, the way people look a component up.
            "style": "filtered",
            "placeholder": text("component_placeholder"),
            "choices": [
                {"title": _clip(name, _ATTEMPTS[0].label), "value": component_id}
                for component_id, name in form.components
            ],
        }
        if form.component in {component_id for component_id, _ in form.components}:
            component["value"] = form.component
    else:
        component = {
            "type": "Input.Text",
            "id": "component",
            "label": text("component"),
            "placeholder": text("component_text_placeholder"),
            "maxLength": 200,
        }
        if form.component:
            component["value"] = form.component
    title: dict[str, Any] = {
        "type": "Input.Text",
        "id": "title",
        "label": text("title_label"),
        "placeholder": text("title_placeholder"),
        "isRequired": True,
        "maxLength": MAX_TITLE_CHARS,
        "errorMessage": text("need_title", limit=MAX_TITLE_CHARS),
    }
    if form.title:
        title["value"] = form.title
    description: dict[str, Any] = {
        "type": "Input.Text",
        "id": "description",
        "label": text("description"),
        "placeholder": text("description_placeholder"),
        "isMultiline": True,
        "maxLength": MAX_DESCRIPTION_CHARS,
    }
    if form.description:
        description["value"] = form.description
    body += [severity, component, title, description]
    return {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "lang": locale,
        "body": body,
        "actions": [
            {
                "type": "Action.Execute",
                "title": _clip(text("submit"), BUTTON_LIMIT),
                "verb": FORM_VERB,
                "data": {"action": FORM_VERB},
                "style": "positive",
            }
        ],
        "fallbackText": _summary(reply),
        "msteams": {"width": "Full"},
    }


def _summary(reply: Reply) -> str:
    return escape_markdown(_clip(reply.text, SUMMARY_LIMIT), line_break=" ")


def _message_text(text: str) -> str:
    for limits in _ATTEMPTS:
        escaped = escape_markdown(_clip(text, limits.text))
        if _json_size(escaped) <= TEXT_BUDGET_BYTES:
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
        summary=_summary(reply),
        text_format=TextFormatTypes.markdown,
        attachments=[
            Attachment(content_type=ADAPTIVE_CARD_CONTENT_TYPE, content=render(reply, locale))
        ],
    )
