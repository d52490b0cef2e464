"""Why a page was refused for good, in terms a person understands.

Senders report a refusal as text such as `Slack answered 200 account_inactive` or
`Bot Connector answered 403 BotNotInConversationRoster` (adapters/*/sender.py). Reading the
code out of that text here keeps the senders unaware of incidents, and gives the thread
note, the card and the failure metric one small vocabulary of reasons instead of every
platform's spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["REASONS", "PageFailure", "classify"]

# reason → what the catalogue calls it (`incident.page_error.<reason>`)
REASONS = (
    "account_inactive",
    "user_not_found",
    "channel_not_found",
    "channel_archived",
    "cannot_dm_bot",
    "app_not_installed",
    "blocked_by_user",
    "app_blocked",
    "bot_credentials",
    "gave_up",
    "other",
)

_SLACK_CODES = {
    "account_inactive": "account_inactive",
    "user_disabled": "account_inactive",
    "user_not_found": "user_not_found",
    "users_not_found": "user_not_found",
    "user_not_visible": "user_not_found",
    "channel_not_found": "channel_not_found",
    "is_archived": "channel_archived",
    "cannot_dm_bot": "cannot_dm_bot",
    "invalid_auth": "bot_credentials",
    "not_authed": "bot_credentials",
    "token_revoked": "bot_credentials",
    "missing_scope": "bot_credentials",
}
_TEAMS_CODES = {
    "BotNotInConversationRoster": "app_not_installed",
    "ConversationBlockedByUser": "blocked_by_user",
    "MessageWritesBlocked": "blocked_by_user",
    "BotDisabledByAdmin": "app_blocked",
    "ConversationNotFound": "channel_not_found",
}
_ANSWER = re.compile(r"answered (\d{3})(?: (\S+))?")


@dataclass(frozen=True)
class PageFailure:
    reason: str  # one of REASONS
    code: str  # the platform's own word for it, for `other` and the logs


def classify(error: str) -> PageFailure:
    """The reason behind a dead outbox row's `last_error`."""
    if error.startswith("gave up after"):
        return PageFailure("gave_up", "")
    found = _ANSWER.search(error)
    if found is None:
        return PageFailure("other", error[:60])
    status, code = int(found.group(1)), found.group(2) or ""
    if code in _SLACK_CODES:
        return PageFailure(_SLACK_CODES[code], code)
    if code in _TEAMS_CODES:
        return PageFailure(_TEAMS_CODES[code], code)
    if error.startswith("Bot Connector"):
        # Teams answers a proactive message to someone without the app with a bare 403,
        # and one to a conversation that is gone with a 404.
        if status == 403:
            return PageFailure("app_not_installed", code or str(status))
        if status == 404:
            return PageFailure("channel_not_found", code or str(status))
    return PageFailure("other", code or str(status))
