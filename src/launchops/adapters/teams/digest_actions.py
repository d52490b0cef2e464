"""The weekly digest's follow-up buttons in Teams (Action.Execute): Assign (a text box for the
owner, forms.ACTION_INPUTS) and Mark reviewed.

The invoke's answer is the service's private sentence (services/digest_followup.py): who may
act, a retried click ("already"), a forged value and an unknown owner are all decided there.
The service is attached to the chat core by the wiring (`attach`), so the Action.Execute table
in invoke.py needs one line: `**digest_works(self._chat)`.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Final
from weakref import WeakKeyDictionary

from launchops.adapters.teams.activity import Turn
from launchops.chat.commands import ChatCore
from launchops.messages.digest_views import ASSIGN, REVIEWED
from launchops.services.digest_followup import DigestFollowup

__all__ = ["OWNER_INPUT", "attach", "digest_works"]

OWNER_INPUT: Final = "owner"  # the Assign box's input id (forms.ACTION_INPUTS)
_MESSAGE_TYPE: Final = "application/vnd.microsoft.activity.message"
_LIMIT: Final = 280

_followups: WeakKeyDictionary[ChatCore, DigestFollowup] = WeakKeyDictionary()

Work = Callable[[Turn, dict[str, Any]], dict[str, Any] | None]


def attach(chat: ChatCore, followup: DigestFollowup) -> None:
    _followups[chat] = followup


def digest_works(chat: ChatCore) -> dict[str, Work]:
    """The verbs of the digest's buttons, for CardActions' table."""

    def assign(turn: Turn, data: dict[str, Any]) -> dict[str, Any] | None:
        followup = _followups.get(chat)
        if followup is None:
            return None
        typed = data.get(OWNER_INPUT)
        owner = typed.strip() if isinstance(typed, str) else ""
        value = str(data.get("value") or "")
        return _message(followup.assign(value, "teams", turn.asker.user_ids, owner or None))

    def review(turn: Turn, data: dict[str, Any]) -> dict[str, Any] | None:
        followup = _followups.get(chat)
        if followup is None:
            return None
        return _message(followup.review(str(data.get("value") or ""), "teams", turn.asker.user_ids))

    return {ASSIGN: assign, REVIEWED: review}


def _message(result: Any) -> dict[str, Any]:
    text = str(result.reply.text)
    if len(text) > _LIMIT:
        text = text[: _LIMIT - 1] + "…"
    return {"statusCode": int(HTTPStatus.OK), "type": _MESSAGE_TYPE, "value": text}
