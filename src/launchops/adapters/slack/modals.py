"""Block Kit for Slack modals: the incident form, its component choices and reading it back.

A sibling of `render.py` (which turns replies into messages): between them they are the only
places Slack's JSON shapes are written. Modal texts are `plain_text`, which Slack never parses
for mentions or links, so a title typed as `<!channel>` stays text here without escaping; the
limits Slack enforces on modals (title and buttons 24 characters, option text 75, placeholder
150, `private_metadata` 3,000) are applied so a long translation cannot make views.open fail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from launchops.domain.incidents import LEVELS, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS
from launchops.messages.i18n import t

__all__ = [
    "COMPONENT_ACTION",
    "INCIDENT_FORM",
    "FormContext",
    "FormValues",
    "Prefill",
    "block_for_error",
    "component_options",
    "incident_form",
    "missing_fields",
    "read_form",
]

INCIDENT_FORM: Final = "incident_form"  # the modal's callback_id
SEVERITY_BLOCK: Final = "severity"
COMPONENT_BLOCK: Final = "component"
TITLE_BLOCK: Final = "title"
DESCRIPTION_BLOCK: Final = "description"
SEVERITY_ACTION: Final = "incident_severity"
COMPONENT_ACTION: Final = "incident_component"  # its options come from an `options` request
TITLE_ACTION: Final = "incident_title"
DESCRIPTION_ACTION: Final = "incident_description"

MODAL_TITLE_LIMIT: Final = 24
OPTION_TEXT_LIMIT: Final = 75
OPTION_VALUE_LIMIT: Final = 150
PLACEHOLDER_LIMIT: Final = 150
METADATA_LIMIT: Final = 3000
MAX_OPTIONS: Final = 100

# Which field a declaration's error belongs beside; anything else is shown under the title.
_ERROR_BLOCKS: Final = {
    "error.unknown_severity": SEVERITY_BLOCK,
    "error.unknown_component": COMPONENT_BLOCK,
    "error.incident_needs_component": COMPONENT_BLOCK,
    "error.description_too_long": DESCRIPTION_BLOCK,
}


def _plain(text: str, limit: int) -> dict[str, Any]:
    clipped = text if len(text) <= limit else text[: limit - 1] + "…"
    return {"type": "plain_text", "text": clipped, "emoji": True}


@dataclass(frozen=True)
class Prefill:
    """What the person already told us (e.g. `/incident p1 empty answers` in a team-less
    channel): the form opens with it filled in, so only the missing part is asked."""

    level: str | None = None
    title: str | None = None

    def to_value(self, locale: str) -> str:
        """As a button value (≤ 2,000 characters: titles are at most 200), with the locale
        of the person the button is shown to."""
        data = {"level": self.level, "title": self.title, "locale": locale}
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_value(cls, value: str | None) -> tuple[Prefill, str]:
        """(prefill, locale) from a button value; anything malformed reads as empty."""
        try:
            # Slack caps button values at 2,000 characters; longer ones were not ours.
            data = json.loads(value or "{}") if len(value or "") <= 2000 else {}
        except (json.JSONDecodeError, RecursionError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        level, title, locale = data.get("level"), data.get("title"), data.get("locale")
        prefill = cls(
            level if isinstance(level, str) and level in LEVELS else None,
            title[:MAX_TITLE_CHARS] if isinstance(title, str) else None,
        )
        return prefill, locale if isinstance(locale, str) and locale else "en"


@dataclass(frozen=True)
class FormContext:
    """Where the form was opened from, carried through the modal in `private_metadata`:
    Slack's view_submission names neither the channel nor a response_url of its own."""

    channel: str | None = None
    response_url: str | None = None
    locale: str = "en"

    def to_metadata(self) -> str:
        data = {"channel": self.channel, "response_url": self.response_url, "locale": self.locale}
        text = json.dumps({k: v for k, v in data.items() if v})
        if len(text) > METADATA_LIMIT:  # an absurd response_url: keep what fits
            text = json.dumps({"channel": self.channel, "locale": self.locale})
        return text

    @classmethod
    def from_metadata(cls, text: object) -> FormContext:
        if not isinstance(text, str) or len(text) > METADATA_LIMIT:
            return cls()
        try:
            data = json.loads(text or "{}")
        except (json.JSONDecodeError, RecursionError):
            return cls()
        if not isinstance(data, dict):
            return cls()

        def text_of(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        return cls(text_of("channel"), text_of("response_url"), text_of("locale") or "en")


@dataclass(frozen=True)
class FormValues:
    level: str | None
    component: str | None
    title: str
    description: str | None


def _severity_option(level: str, locale: str) -> dict[str, Any]:
    text = t(
        "slack.incident_form.severity_option",
        locale,
        level=level.upper(),
        meaning=t(f"slack.severity.{level}", locale),
    )
    return {"text": _plain(text, OPTION_TEXT_LIMIT), "value": level}


def incident_form(
    locale: str, context: FormContext, prefill: Prefill | None = None
) -> dict[str, Any]:
    """The `view` for views.open: severity, component (type-ahead), title, description."""
    prefill = prefill or Prefill()
    severity: dict[str, Any] = {
        "type": "static_select",
        "action_id": SEVERITY_ACTION,
        "placeholder": _plain(t("slack.incident_form.severity_placeholder", locale), 150),
        "options": [_severity_option(level, locale) for level in LEVELS],
    }
    if prefill.level in LEVELS:
        severity["initial_option"] = _severity_option(prefill.level, locale)
    title: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": TITLE_ACTION,
        "max_length": MAX_TITLE_CHARS,
        "placeholder": _plain(t("slack.incident_form.title_placeholder", locale), 150),
    }
    if prefill.title:
        title["initial_value"] = prefill.title[:MAX_TITLE_CHARS]
    blocks = [
        _input(SEVERITY_BLOCK, t("slack.incident_form.severity", locale), severity),
        _input(
            COMPONENT_BLOCK,
            t("slack.incident_form.component", locale),
            {
                "type": "external_select",
                "action_id": COMPONENT_ACTION,
                "min_query_length": 0,
                "placeholder": _plain(t("slack.incident_form.component_placeholder", locale), 150),
            },
            hint=t("slack.incident_form.component_hint", locale),
        ),
        _input(TITLE_BLOCK, t("slack.incident_form.title_label", locale), title),
        _input(
            DESCRIPTION_BLOCK,
            t("slack.incident_form.description", locale),
            {
                "type": "plain_text_input",
                "action_id": DESCRIPTION_ACTION,
                "multiline": True,
                "max_length": MAX_DESCRIPTION_CHARS,
                "placeholder": _plain(
                    t("slack.incident_form.description_placeholder", locale), PLACEHOLDER_LIMIT
                ),
            },
            optional=True,
        ),
    ]
    return {
        "type": "modal",
        "callback_id": INCIDENT_FORM,
        "title": _plain(t("slack.incident_form.title", locale), MODAL_TITLE_LIMIT),
        "submit": _plain(t("slack.incident_form.submit", locale), MODAL_TITLE_LIMIT),
        "close": _plain(t("slack.incident_form.close", locale), MODAL_TITLE_LIMIT),
        "private_metadata": context.to_metadata(),
        "blocks": blocks,
    }


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    hint: str | None = None,
    optional: bool = False,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, 2000),
        "element": element,
    }
    if hint:
        block["hint"] = _plain(hint, 2000)
    if optional:
        block["optional"] = True
    return block


def component_options(choices: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The answer to the component picker's `options` request: (id, name) → options."""
    options = [
        {"text": _plain(name, OPTION_TEXT_LIMIT), "value": component_id}
        for component_id, name in choices
        if len(component_id) <= OPTION_VALUE_LIMIT  # Slack's limit; config ids are ≤ 64
    ]
    return options[:MAX_OPTIONS]


def _state(view: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    found: object = view
    for key in ("state", "values", block_id, action_id):
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, dict) else {}


def _selected(view: dict[str, Any], block_id: str, action_id: str) -> str | None:
    option = _state(view, block_id, action_id).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) and value else None


def _typed(view: dict[str, Any], block_id: str, action_id: str) -> str:
    value = _state(view, block_id, action_id).get("value")
    return value if isinstance(value, str) else ""


def read_form(view: dict[str, Any]) -> FormValues:
    """The submitted fields; a missing or malformed field reads as empty, never raises."""
    description = _typed(view, DESCRIPTION_BLOCK, DESCRIPTION_ACTION).strip()
    return FormValues(
        level=_selected(view, SEVERITY_BLOCK, SEVERITY_ACTION),
        component=_selected(view, COMPONENT_BLOCK, COMPONENT_ACTION),
        title=_typed(view, TITLE_BLOCK, TITLE_ACTION),
        description=description or None,
    )


def missing_fields(values: FormValues, locale: str) -> dict[str, str]:
    """`response_action: errors` for required fields left empty (Slack's client checks them
    too; this catches older clients and hand-made requests)."""
    errors = {}
    if values.level is None:
        errors[SEVERITY_BLOCK] = t("slack.incident_form.need_severity", locale)
    if values.component is None:
        errors[COMPONENT_BLOCK] = t("slack.incident_form.need_component", locale)
    if not values.title.strip():
        errors[TITLE_BLOCK] = t("slack.incident_form.need_title", locale)
    return errors


def block_for_error(key: str) -> str:
    """The form field an error from declaring belongs beside."""
    return _ERROR_BLOCKS.get(key, TITLE_BLOCK)
