"""Cards with inputs: the incident form (forms.py says how it travels), a button that opens a
text box on its card (forms.ACTION_INPUTS: a gate's Reject and Comment), and that text box on
a card of its own when what was typed is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from launchops.adapters.teams.card_parts import (
    ADAPTIVE_CARD_SCHEMA,
    ADAPTIVE_CARD_VERSION,
    ATTEMPTS,
    BUTTON_LIMIT,
    CARD_BUDGET_BYTES,
    Limits,
    clip,
    escape_markdown,
    execute_button,
    json_size,
    summary_text,
    text_input,
)
from launchops.adapters.teams.forms import ACTION_INPUTS, FORM_VERB, FormState
from launchops.domain.incidents import LEVELS, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS
from launchops.messages.i18n import t
from launchops.messages.reply import Action, Reply

__all__ = ["form_card", "input_action", "input_card"]


def input_action(action: Action, limits: Limits, locale: str) -> dict[str, Any] | None:
    """A button that needs words first (forms.ACTION_INPUTS) opens a required text box on its
    card with the button that sends it, which Teams merges into the invoke's `data`; None for
    any other button."""
    spec = ACTION_INPUTS.get(action.id)
    if spec is None:
        return None
    return {
        "type": "Action.ShowCard",
        "title": clip(action.label, BUTTON_LIMIT),
        "card": {
            "type": "AdaptiveCard",
            "body": [text_input(box, locale) for box in spec.inputs()],
            "actions": [execute_button(action, limits, spec.text("submit", locale))],
        },
    }


def input_card(
    title: str,
    action: Action,
    message: str,
    typed: str = "",
    locale: str = "en",
    earlier: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The text box of `action` (forms.ACTION_INPUTS) on a card of its own, with `message` on
    top: what an invoke answers when the text was refused, so it can be put right. `earlier`
    holds what was typed in the boxes above the last one, by input id."""
    spec = ACTION_INPUTS[action.id]
    earlier = earlier or {}
    limits = ATTEMPTS[0]
    notice = escape_markdown(clip(message, limits.text), line_break=" ")
    return {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "lang": locale,
        "body": [
            {
                "type": "TextBlock",
                "text": escape_markdown(clip(title, limits.title), line_break=" "),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "style": "heading",
            },
            {"type": "TextBlock", "text": notice, "wrap": True, "color": "Attention"},
            *(text_input(box, locale, earlier.get(box.id, "")) for box in spec.before),
            text_input(spec, locale, typed),
        ],
        "actions": [execute_button(action, limits, spec.text("submit", locale))],
        "fallbackText": notice,
        "msteams": {"width": "Full"},
    }


def form_card(form: FormState, reply: Reply) -> dict[str, Any]:
    """The incident form; with too many (or too long) component names for one message, the
    component is asked for as typed text (matched by id, name or alias) instead of a list."""
    content = _form_content(form, reply)
    if form.components and json_size(content) > CARD_BUDGET_BYTES:
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
            "text": escape_markdown(clip(heading, ATTEMPTS[0].title), line_break=" "),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "style": "heading",
        }
    ]
    if form.message:
        # What was wrong with the last attempt: it may quote the user's input, so escaped.
        notice = escape_markdown(clip(form.message, ATTEMPTS[0].text), line_break=" ")
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
                {"title": clip(name, ATTEMPTS[0].label), "value": component_id}
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
                "title": clip(text("submit"), BUTTON_LIMIT),
                "verb": FORM_VERB,
                "data": {"action": FORM_VERB},
                "style": "positive",
            }
        ],
        "fallbackText": summary_text(reply),
        "msteams": {"width": "Full"},
    }
