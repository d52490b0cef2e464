"""The pieces every LaunchOps Adaptive Card is built from: sizes, escaping and buttons.

Teams renders a subset of markdown in TextBlocks, FactSets and message text, so every piece of
user-influenced text is escaped: a component called `[click](http://evil)` or a title of
`<at>everyone</at>` must come out as the characters the user typed, never as a link, a
mention or formatting. Backslash escapes are CommonMark's own and are honoured by the Teams
renderers; `<`, `>` and `&` are escaped too, so neither an `<at>` tag nor an HTML entity
survives. Button titles are not markdown and stay plain.

Sizes are clipped because Teams refuses a whole message over 28 KB (MessageSizeTooBig), and a
page that fails to deliver is worse than one with a shortened line: a card over budget is
rendered again with tighter limits (`ATTEMPTS`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlsplit

from launchops.adapters.teams.forms import ActionInput
from launchops.messages.reply import Action, Reply

__all__ = [
    "ADAPTIVE_CARD_CONTENT_TYPE",
    "ADAPTIVE_CARD_SCHEMA",
    "ADAPTIVE_CARD_VERSION",
    "ATTEMPTS",
    "BUTTON_LIMIT",
    "CARD_BUDGET_BYTES",
    "MAX_ACTIONS",
    "TEXT_BUDGET_BYTES",
    "Limits",
    "clip",
    "escape_markdown",
    "execute_button",
    "json_size",
    "link_target",
    "summary_text",
    "text_input",
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
class Limits:
    """Character limits for one rendering attempt; later attempts are tighter."""

    title: int
    text: int
    label: int
    value: int
    fields: int
    action_value: int


ATTEMPTS: Final = (
    Limits(title=300, text=4000, label=200, value=1000, fields=30, action_value=1000),
    Limits(title=200, text=1500, label=100, value=300, fields=20, action_value=500),
    Limits(title=100, text=500, label=50, value=100, fields=10, action_value=200),
)
STYLES: Final = {"primary": "positive", "danger": "destructive"}
# Markdown syntax characters (links, emphasis, headings, quotes, lists, code, strikethrough,
# tables) plus `<`, `>` (tags such as <at>) and `&` (HTML entities such as &lt;at&gt;).
_MARKDOWN_SPECIAL = re.compile(r"([\\*_\[\]()#>+\-`~|<&!])")
# `1.` or `1)` at the start of a line opens an ordered list; `=` can underline a heading.
_ORDERED_MARKER = re.compile(r"^(\d+)([.)])")
_LINK_SCHEMES: Final = frozenset({"http", "https", "mailto"})
# What may stay unencoded in a markdown link destination: no spaces, parentheses, brackets or
# angle brackets, which would end the destination early or open a new construct.
_URL_SAFE: Final = "/:?#@!$&'*+,;=%-._~"


def clip(text: str, limit: int) -> str:
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


def link_target(url: str | None) -> str | None:
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


def json_size(value: Any) -> int:
    return len(json.dumps(value))


def summary_text(reply: Reply) -> str:
    return escape_markdown(clip(reply.text, SUMMARY_LIMIT), line_break=" ")


def execute_button(action: Action, limits: Limits, title: str | None = None) -> dict[str, Any]:
    """A Universal Action: Teams sends an `adaptiveCard/action` invoke carrying `data`."""
    rendered: dict[str, Any] = {
        "type": "Action.Execute",
        "title": clip(title or action.label, BUTTON_LIMIT),
        "verb": action.id,
        "data": {"action": action.id, "value": action.value[: limits.action_value]},
    }
    if action.style in STYLES:
        rendered["style"] = STYLES[action.style]
    return rendered


def text_input(spec: ActionInput, locale: str, value: str = "") -> dict[str, Any]:
    box: dict[str, Any] = {
        "type": "Input.Text",
        "id": spec.id,
        "label": spec.text("label", locale),
        "placeholder": spec.text("placeholder", locale),
        "isMultiline": spec.multiline,
        "isRequired": True,
        "maxLength": spec.max_length,
        "errorMessage": spec.text("required", locale),
    }
    if value:
        box["value"] = value[: spec.max_length]
    return box
