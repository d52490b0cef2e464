"""Reading why a page was refused out of what the senders report."""

from __future__ import annotations

import pytest

from launchops.domain.page_failures import REASONS, PageFailure, classify
from launchops.messages.i18n import catalogue


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            "Slack answered 200 account_inactive",
            PageFailure("account_inactive", "account_inactive"),
        ),
        ("Slack answered 200 user_disabled", PageFailure("account_inactive", "user_disabled")),
        ("Slack answered 200 user_not_found", PageFailure("user_not_found", "user_not_found")),
        (
            "Slack answered 200 channel_not_found",
            PageFailure("channel_not_found", "channel_not_found"),
        ),
        (
            "Bot Connector answered 403 BotNotInConversationRoster",
            PageFailure("app_not_installed", "BotNotInConversationRoster"),
        ),
        ("Bot Connector answered 403", PageFailure("app_not_installed", "403")),
        ("Bot Connector answered 404 Whatever", PageFailure("channel_not_found", "Whatever")),
        ("gave up after 10 attempts: HTTP 503", PageFailure("gave_up", "")),
        ("Slack answered 200 msg_too_long", PageFailure("other", "msg_too_long")),
        (
            "update without a channel and ts to edit",
            PageFailure("other", "update without a channel and ts to edit"),
        ),
    ],
)
def test_refusals_are_read_into_reasons(error: str, expected: PageFailure) -> None:
    assert classify(error) == expected


@pytest.mark.parametrize("locale", ["en", "ko"])
def test_every_reason_has_words_in_each_language(locale: str) -> None:
    assert {f"incident.page_error.{reason}" for reason in REASONS} <= set(catalogue(locale))
