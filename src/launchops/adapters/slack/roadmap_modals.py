"""Block Kit for the roadmap nudge's modals: Extend (a new date or duration and a reason) and
Stop (a reason); reading them back.

A sibling of `gate_modals.py`, with the same rules: texts are `plain_text`, Slack's limits
are applied, and what a submission carries back is read without trusting its shape. The
button's value (`<project_id>:<stage>:<version>`) travels in `private_metadata` and is
checked again by the roadmap service on submission.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from launchops.adapters.slack.modals import METADATA_LIMIT, MODAL_TITLE_LIMIT, _input, _plain
from launchops.messages.i18n import t
from launchops.services.roadmap import MAX_REASON_CHARS

__all__ = [
    "EXTEND_FORM",
    "REASON_BLOCK",
    "STOP_FORM",
    "WHEN_BLOCK",
    "RoadmapFormContext",
    "read_input",
    "roadmap_form",
]

EXTEND_FORM: Final = "roadmap_extend_form"  # callback ids
STOP_FORM: Final = "roadmap_stop_form"
WHEN_BLOCK: Final = "roadmap_when"
REASON_BLOCK: Final = "roadmap_reason"
_INPUT: Final = "value"  # every input's action_id
_VALUE_LIMIT: Final = 200


@dataclass(frozen=True)
class RoadmapFormContext:
    """What a roadmap modal's submission needs, carried in `private_metadata`."""

    value: str  # the button's `<project_id>:<stage>:<version>`
    channel: str | None = None
    response_url: str | None = None
    locale: str = "en"

    def to_metadata(self) -> str:
        data = {
            "roadmap": self.value,
            "channel": self.channel,
            "response_url": self.response_url,
            "locale": self.locale,
        }
        text = json.dumps({k: v for k, v in data.items() if v})
        if len(text) > METADATA_LIMIT:  # an absurd response_url: keep what fits
            data.pop("response_url")
            text = json.dumps({k: v for k, v in data.items() if v})
        return text

    @classmethod
    def from_metadata(cls, text: object) -> RoadmapFormContext | None:
        """None when the metadata is not ours (a forged submission)."""
        if not isinstance(text, str) or len(text) > METADATA_LIMIT:
            return None
        try:
            data = json.loads(text or "{}")
        except (json.JSONDecodeError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None

        def text_of(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        value = text_of("roadmap")
        if value is None or len(value) > _VALUE_LIMIT:
            return None
        return cls(value, text_of("channel"), text_of("response_url"), text_of("locale") or "en")


def _project_stage(value: str) -> tuple[str, str]:
    parts = value.rsplit(":", 2)
    return (parts[0], parts[1]) if len(parts) == 3 else (value, "")


def roadmap_form(kind: str, context: RoadmapFormContext) -> dict[str, Any]:
    """The `view` for views.open: `kind` is `extend` (date and reason) or `stop` (reason)."""
    locale = context.locale
    project, stage = _project_stage(context.value)
    stage_name = t(f"gate.stage.{stage}", locale) if stage else stage
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": _plain(
                t(f"slack.roadmap_form.{kind}_intro", locale, project=project, stage=stage_name),
                3000,
            ),
        }
    ]
    if kind == "extend":
        when = {
            "type": "plain_text_input",
            "action_id": _INPUT,
            "max_length": 40,
            "placeholder": _plain(t("slack.roadmap_form.when_placeholder", locale), 150),
        }
        blocks.append(_input(WHEN_BLOCK, t("slack.roadmap_form.when_label", locale), when))
    reason = {
        "type": "plain_text_input",
        "action_id": _INPUT,
        "multiline": True,
        "max_length": MAX_REASON_CHARS,
        "placeholder": _plain(t("slack.roadmap_form.reason_placeholder", locale), 150),
    }
    blocks.append(_input(REASON_BLOCK, t("slack.roadmap_form.reason_label", locale), reason))
    return {
        "type": "modal",
        "callback_id": EXTEND_FORM if kind == "extend" else STOP_FORM,
        "title": _plain(t(f"slack.roadmap_form.{kind}_title", locale), MODAL_TITLE_LIMIT),
        "submit": _plain(t(f"slack.roadmap_form.{kind}_submit", locale), MODAL_TITLE_LIMIT),
        "close": _plain(t("slack.roadmap_form.close", locale), MODAL_TITLE_LIMIT),
        "private_metadata": context.to_metadata(),
        "blocks": blocks,
    }


def read_input(view: dict[str, Any], block: str) -> str:
    """The text typed in `block`, stripped; empty when missing or malformed."""
    found: object = view
    for key in ("state", "values", block, _INPUT, "value"):
        found = found.get(key) if isinstance(found, dict) else None
    return found.strip() if isinstance(found, str) else ""
