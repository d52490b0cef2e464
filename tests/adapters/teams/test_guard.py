"""The checks an activity passes before botbuilder sees it, and the serviceUrl rule."""

from __future__ import annotations

import json

import pytest
from botbuilder.schema import Activity

from launchops.adapters.teams.guard import MAX_DEPTH, parse_activity, service_url_allowed
from launchops.settings import Settings
from tests.e2e.harness import make_settings


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        "sqlite:///never-opened.db",
        LAUNCHOPS_TEAMS_ANONYMOUS="true",
        LAUNCHOPS_TEAMS_SERVICE_URL="https://smba.trafficmanager.net/teams/",
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://smba.trafficmanager.net/teams/",
        "https://smba.trafficmanager.net/teams",
        "https://SMBA.trafficmanager.net/teams/v3/conversations",
        "http://127.0.0.1:8123/",
        "http://127.8.9.10/",
        "http://[::1]:9/api/",
        "http://localhost:3978/",
    ],
)
def test_the_configured_service_url_and_loopback_are_allowed(settings: Settings, url: str) -> None:
    assert service_url_allowed(settings, url)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/",
        "https://smba.trafficmanager.net/emea/",  # same host, another path
        "http://smba.trafficmanager.net/teams/",  # downgraded to http
        "https://smba.trafficmanager.net.evil.example/teams/",
        "https://smba.trafficmanager.net@evil.example/teams/",
        "http://127.0.0.1.evil.example/",
        "http://127.0.0.1@evil.example/",
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://127.0.0.1:notaport/",
        "ftp://127.0.0.1/",
        "",
        None,
        42,
    ],
)
def test_any_other_service_url_is_refused(settings: Settings, url: object) -> None:
    assert not service_url_allowed(settings, url)


def _activity(**fields: object) -> bytes:
    base = {
        "type": "message",
        "id": "1",
        "serviceUrl": "http://127.0.0.1:1/",
        "conversation": {"id": "a:1"},
        "text": "who owns rag",
    }
    return json.dumps({**base, **fields}).encode()


def test_a_plain_activity_parses() -> None:
    parsed = parse_activity(_activity())
    assert isinstance(parsed, Activity)
    assert parsed.text == "who owns rag"


def _nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"a": [value]}
    return value


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 5000 + b"]" * 5000, "activity nested deeper"),
        (b'{"type": "message", "value": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested deeper"),
        (_activity(value=_nested(MAX_DEPTH)), "nested deeper"),
        (_activity(text="who owns \x00 rag"), "activity contains a NUL character"),
        (_activity(text="\ud800"), "activity contains invalid Unicode"),
        (_activity(channelData={"\ud800": 1}), "activity contains invalid Unicode"),
        (_activity(conversation="a:1"), "not a Bot Framework activity"),
        (_activity(conversation={"id": ""}), "activity lacks conversation.id"),
        (_activity(serviceUrl=None), "activity lacks conversation.id"),
        (b"12", "not a Bot Framework activity"),
        (b'{"type": 7}', "not a Bot Framework activity: missing type"),
    ],
)
def test_what_teams_would_never_send_gets_a_one_line_reason(body: bytes, reason: str) -> None:
    parsed = parse_activity(body)
    assert isinstance(parsed, str)
    assert parsed.startswith(reason) or reason in parsed
    assert "\n" not in parsed and len(parsed) < 120


def test_nesting_up_to_the_limit_is_fine() -> None:
    assert isinstance(parse_activity(_activity(value=_nested(MAX_DEPTH // 2 - 1))), Activity)


def test_brackets_inside_strings_are_not_nesting() -> None:
    parsed = parse_activity(
        _activity(text='who owns [{"rag' + "[{" * 500, value={"q": "\\" + "[" * 99})
    )
    assert isinstance(parsed, Activity)
