"""Neutral output that every platform renderer understands.

All text here is plain: no Slack mrkdwn, no Teams markdown, no HTML. Each renderer escapes it
for its platform, which is what keeps `<!channel>` typed by a user from ever becoming a
broadcast, whatever path the text took.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_serializer, field_validator

Style = Literal["default", "primary", "danger"]
LINK_ACTION = "open_url"  # the id of a link button (an `Action` with a `url`)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Field(_Frozen):
    label: str
    value: str
    url: str | None = None  # when set, `value` is shown as a link to it


class Action(_Frozen):
    """A button. `id` says what it does (e.g. `run_command`); `value` carries its argument.

    With `url` (http or https) it is a link button: a click opens the URL (Slack `url`,
    Teams `Action.OpenUrl`) and the bot has nothing to do."""

    id: str
    label: str
    value: str
    style: Style = "default"
    url: str | None = None


class Image(_Frozen):
    """A small PNG shown in the card (Teams: an Adaptive Card `Image` with a data URL; Slack
    ignores it and uploads files instead). In JSON (the outbox row) `png` is base64."""

    png: bytes
    alt: str

    @field_validator("png", mode="before")
    @classmethod
    def _from_base64(cls, value: Any) -> Any:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else value

    @field_serializer("png", when_used="json")
    def _to_base64(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")


class Card(_Frozen):
    title: str
    text: str | None = None
    fields: tuple[Field, ...] = ()
    actions: tuple[Action, ...] = ()
    note: str | None = None  # small print under the card
    image: Image | None = None


class Reply(_Frozen):
    """What the bot says. `text` is always set: it is the notification and fallback text."""

    text: str
    card: Card | None = None
    private: bool = False  # only the asker should see it (ephemeral in Slack)
