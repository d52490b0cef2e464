"""Everything LaunchOps advertises exists: the Slack and Teams manifests and `help` name only
commands that the real endpoints answer.

The commands are read from the files a user sees (deploy/ manifests, the help texts in both
languages), not from a list kept here, so a manifest that advertises a command with no handler
(a `/gate` before gates exist) or a help example the grammar refuses fails this test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from launchops.messages.i18n import LOCALES, catalogue, t
from tests.e2e.harness import SLACK_SECRET, RunningApp, make_settings, running_app, slack_settings
from tests.e2e.slack_ack import ack_answer
from tests.e2e.test_teams_incidents_e2e import FILTERED_GAP
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_requests import sign, slash_command_body
from tests.fakes.teams_connector import FakeBotConnector, message_activity

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SECRET = SLACK_SECRET
FORM = "application/x-www-form-urlencoded"
EXAMPLE = re.compile(r"(?:e\.g\.|예:)\s*(?P<example>.+?)\s*$")

# Sentences that mean "I don't know that command" or "that is not how to use it".
_REFUSAL_KEYS = (
    "error.unknown_command",
    "error.generic",
    "usage.incident",
    "usage.incident_action",
)


def _refusal_starts(locale: str) -> list[str]:
    """The first fixed fragment of each refusal (placeholders, quotes and the characters a
    renderer escapes cut out), to look for in what the bot answered."""
    fragments = []
    for key in _REFUSAL_KEYS:
        rendered = t(key, locale, word="\x00", ref="\x00")
        pieces = re.split(r"[\x00<>&“”\"]", rendered)
        fragments.append(next(p.strip() for p in pieces if len(p.strip()) >= 6))
    return fragments


def help_examples() -> list[tuple[str, str]]:
    """(locale, example) for every `e.g.` in every help text of every language."""
    found: list[tuple[str, str]] = []
    for locale in LOCALES:
        for key, text in catalogue(locale).items():
            if not (key.startswith("help.") and key.endswith(".text")):
                continue
            for line in text.splitlines():
                if match := EXAMPLE.search(line):
                    found.append((locale, match.group("example").rstrip(".")))
    return sorted(set(found))


def slack_commands() -> list[dict[str, Any]]:
    manifest = yaml.safe_load((DEPLOY / "slack-app-manifest.yaml").read_text(encoding="utf-8"))
    commands: list[dict[str, Any]] = manifest["features"]["slash_commands"]
    return commands


def teams_command_entries() -> list[dict[str, str]]:
    manifest = json.loads((DEPLOY / "teams" / "manifest.json").read_text(encoding="utf-8"))
    return [
        command
        for bot in manifest["bots"]
        for command_list in bot["commandLists"]
        for command in command_list["commands"]
    ]


def teams_commands() -> list[str]:
    return [command["title"] for command in teams_command_entries()]


def teams_examples() -> list[str]:
    """The `e.g.` of each Teams command's description: it must start with the command."""
    examples = []
    for command in teams_command_entries():
        if match := EXAMPLE.search(command["description"]):
            example = match.group("example").rstrip(".")
            assert example.startswith(command["title"]), (command["title"], example)
            examples.append(example)
    return examples


def test_help_has_examples_in_every_language() -> None:
    examples = help_examples()
    for locale in LOCALES:
        mine = [example for lang, example in examples if lang == locale]
        assert len(mine) >= 10, (locale, mine)
        assert any(e.startswith("incident p1") for e in mine)
        assert any(e.startswith("who owns") for e in mine)


@pytest.fixture
def slack_app(sqlite_url: str, slack: FakeSlackAPI) -> Iterator[RunningApp]:
    with running_app(slack_settings(sqlite_url, slack.url)) as running:
        yield running


def _slash(app: RunningApp, slack: FakeSlackAPI, command: str, text: str, user: str) -> str:
    """Send a signed slash command; the text the bot answered with (or the form it opened)."""
    before = len(slack.calls("views.open"))
    body = slash_command_body(command, text, user, "C0GENERAL", slack.response_url("advert"))
    with app.client() as client:
        response = client.post(
            "/slack/events", content=body, headers=sign(SECRET, body, content_type=FORM)
        )
    assert response.status_code == 200, (command, text, response.text)
    if response.content:  # the answer rides in the ack
        return json.dumps(ack_answer(response).params, ensure_ascii=False)
    # Else the ack is empty: a form opens, right after the ack.
    [opened] = slack.wait_for("views.open", before + 1)[before:]
    return json.dumps(opened.params, ensure_ascii=False)


def test_every_slack_slash_command_in_the_manifest_is_handled(
    slack_app: RunningApp, slack: FakeSlackAPI
) -> None:
    commands = slack_commands()
    assert {c["command"] for c in commands} >= {"/incident", "/owner", "/launchops"}
    for entry in commands:
        answer = _slash(slack_app, slack, entry["command"], "", "U0ALICE")
        for start in _refusal_starts("en"):
            assert start not in answer, (entry["command"], answer)


@pytest.mark.parametrize(("locale", "example"), help_examples())
def test_every_help_example_is_answered_through_slack(
    slack_app: RunningApp, slack: FakeSlackAPI, locale: str, example: str
) -> None:
    user = "U0MINJUN" if locale == "ko" else "U0ALICE"  # Minjun reads Korean
    answer = _slash(slack_app, slack, "/launchops", example, user)
    for start in _refusal_starts(locale):
        assert start not in answer, (example, answer)


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        yield fake
        # Bare `incident` answers with the form, whose `filtered` style the schema predates.
        fake.problems[:] = [p for p in fake.problems if not FILTERED_GAP.match(p)]
        fake.assert_valid()


@pytest.fixture
def teams_app(sqlite_url: str, connector: FakeBotConnector) -> Iterator[RunningApp]:
    settings = make_settings(
        sqlite_url,
        LAUNCHOPS_TEAMS_SERVICE_URL=connector.url,
        LAUNCHOPS_TEAMS_ANONYMOUS="true",
    )
    with running_app(settings) as running:
        yield running


def _teams_answer(app: RunningApp, connector: FakeBotConnector, text: str, number: int) -> str:
    activity = message_activity(
        connector.url, text, from_id="29:1alice", activity_id=f"advert-{number}"
    )
    with app.client() as client:
        response = client.post("/api/messages", json=activity)
    assert response.status_code == 200, (text, response.text)
    [reply] = connector.wait_for(1, predicate=lambda r, a=activity: r.activity_id == a["id"])
    return json.dumps(reply.activity, ensure_ascii=False)


def test_every_teams_manifest_command_is_understood(
    teams_app: RunningApp, connector: FakeBotConnector
) -> None:
    """Each title alone (what Teams puts in the compose box) is not refused as unknown, and
    each description's example is answered, not with a usage message."""
    titles = teams_commands()
    assert set(titles) >= {"who owns", "owns", "incident", "gate", "help"}
    usage = t("gate.usage", "en").split("<")[0].strip()  # "Usage: gate request"
    for number, title in enumerate(titles):
        text = _teams_answer(teams_app, connector, title, number)
        for start in _refusal_starts("en"):
            assert start not in text, (title, text)
        if title == "gate":  # alone, it lists what gate does
            assert usage in text, text
    examples = teams_examples()
    assert any(example.startswith("gate ") for example in examples)
    for number, example in enumerate(examples, start=len(titles)):
        text = _teams_answer(teams_app, connector, example, number)
        for start in [*_refusal_starts("en"), usage]:
            assert start not in text, (example, text)
