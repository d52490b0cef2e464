"""Block Kit for the stage-gate modals: the reason for a rejection, a comment; reading them.

A sibling of `modals.py` (the incident form), with the same rules: texts are `plain_text`,
Slack's limits are applied (title and buttons 24 characters, `private_metadata` 3,000), and
what a submission carries back is read without trusting its shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from launchops.adapters.slack.modals import METADATA_LIMIT, MODAL_TITLE_LIMIT, _input, _plain
from launchops.messages.i18n import t
from launchops.services.gates import MAX_COMMENT_CHARS, MAX_REASON_CHARS

__all__ = [
    "COMMENT_FORM",
    "REJECT_FORM",
    "TEXT_BLOCK",
    "ButtonValue",
    "GateFormContext",
    "gate_form",
    "read_text",
]

REJECT_FORM: Final = "gate_reject_form"  # callback ids
COMMENT_FORM: Final = "gate_comment_form"
TEXT_BLOCK: Final = "gate_text"
TEXT_ACTION: Final = "gate_text_input"

_VALUE = re.compile(r"([0-9]{1,9}):([0-9]{1,9})")


@dataclass(frozen=True)
class ButtonValue:
    """`<request id>:<evidence version>`, as messages/gate_views.py writes it."""

    request_id: int
    version: int

    @classmethod
    def parse(cls, value: str | None) -> ButtonValue | None:
        """None for anything the bot did not write (a forged or garbled value)."""
        match = _VALUE.fullmatch(value or "")
        if match is None:
            return None
        request_id, version = int(match.group(1)), int(match.group(2))
        return cls(request_id, version) if request_id > 0 and version > 0 else None


@dataclass(frozen=True)
class GateFormContext:
    """What a gate modal's submission needs, carried in `private_metadata`."""

    request_id: int
    version: int
    channel: str | None = None
    response_url: str | None = None
    locale: str = "en"

    def to_metadata(self) -> str:
        data: dict[str, Any] = {
            "gate": self.request_id,
            "version": self.version,
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
    def from_metadata(cls, text: object) -> GateFormContext | None:
        """None when the metadata is not ours (a forged submission)."""
        if not isinstance(text, str) or len(text) > METADATA_LIMIT:
            return None
        try:
            data = json.loads(text or "{}")
        except (json.JSONDecodeError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        request_id, version = data.get("gate"), data.get("version")
        if not (isinstance(request_id, int) and isinstance(version, int)):
            return None
        if not (0 < request_id < 10**9 and 0 < version < 10**9):
            return None

        def text_of(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        return cls(
            request_id,
            version,
            text_of("channel"),
            text_of("response_url"),
            text_of("locale") or "en",
        )


def gate_form(kind: str, context: GateFormContext) -> dict[str, Any]:
    """The `view` for views.open: `kind` is `reject` (a required reason) or `comment`."""
    locale = context.locale
    ref = t("gate.ref", locale, id=context.request_id)
    limit = MAX_REASON_CHARS if kind == "reject" else MAX_COMMENT_CHARS
    element = {
        "type": "plain_text_input",
        "action_id": TEXT_ACTION,
        "multiline": True,
        "max_length": limit,
        "placeholder": _plain(t(f"slack.gate_form.{kind}_placeholder", locale), 150),
    }
    intro = {
        "type": "section",
        "text": _plain(t(f"slack.gate_form.{kind}_intro", locale, ref=ref), 3000),
    }
    return {
        "type": "modal",
        "callback_id": REJECT_FORM if kind == "reject" else COMMENT_FORM,
        "title": _plain(t(f"slack.gate_form.{kind}_title", locale), MODAL_TITLE_LIMIT),
        "submit": _plain(t(f"slack.gate_form.{kind}_submit", locale), MODAL_TITLE_LIMIT),
        "close": _plain(t("slack.gate_form.close", locale), MODAL_TITLE_LIMIT),
        "private_metadata": context.to_metadata(),
        "blocks": [
            intro,
            _input(TEXT_BLOCK, t(f"slack.gate_form.{kind}_label", locale), element),
        ],
    }


def read_text(view: dict[str, Any]) -> str:
    """The typed reason or comment, stripped; empty when missing or malformed."""
    found: object = view
    for key in ("state", "values", TEXT_BLOCK, TEXT_ACTION, "value"):
        found = found.get(key) if isinstance(found, dict) else None
    return found.strip() if isinstance(found, str) else ""
