"""Fixtures most end-to-end tests share; a module may still define its own of the same name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from launchops.domain.masking import mask
from tests.fakes.slack_api import FakeSlackAPI


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    """The loopback Slack Web API; at the end, every call it saw must have matched the spec."""
    with FakeSlackAPI() as fake:
        yield fake
        fake.assert_valid()


@pytest.fixture(autouse=True)
def _no_personal_data_in_our_log_lines(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every line the bot logs during an end-to-end test is already masked: masking it again
    changes nothing. (Production masks other libraries' lines too, in their formatter;
    pytest's capture has no such formatter, so only our own loggers are checked here.)"""
    yield
    leaks = [
        record.getMessage()
        for record in caplog.get_records("call")
        if record.name.startswith("launchops") and mask(record.getMessage()) != record.getMessage()
    ]
    assert leaks == [], f"unmasked personal data or secrets in log lines: {leaks[:3]}"
