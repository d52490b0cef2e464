"""Fixtures most end-to-end tests share; a module may still define its own of the same name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.slack_api import FakeSlackAPI


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    """The loopback Slack Web API; at the end, every call it saw must have matched the spec."""
    with FakeSlackAPI() as fake:
        yield fake
        fake.assert_valid()
