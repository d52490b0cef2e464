"""The README's "Deploy to Slack" and "Deploy to Teams" name only things that exist.

Each is a numbered walk-through; every `launchops …` command it tells a user to run is a
real CLI command, every `make …` a Makefile target, every setting one that Settings (or the
Teams packager) reads, every slash command one the Slack manifest declares, every file a file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_deploy_files import ENV_NAME, _cli_commands, _declared_env_names

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
SECTIONS = ("Deploy to Slack", "Deploy to Teams")
# What `make teams-package` reads besides Settings' names (deploy/teams/package.py).
PACKAGE_VARIABLES = {"TeamsAppId", "PublicHostname", "CompanyName", "TEAMS_PACKAGE"}
SETTING = re.compile(r"`((?:SLACK|LAUNCHOPS|Microsoft)\w*|TeamsAppId|PublicHostname|CompanyName)`")
SETTING_ASSIGNED = re.compile(r"^\s*#?\s*([A-Za-z_]\w*)=", re.MULTILINE)
LAUNCHOPS_COMMAND = re.compile(r"\blaunchops ((?:[a-z]+)(?: [a-z]+)?)")
MAKE_TARGET = re.compile(r"\bmake ([a-z][a-z-]*)")
SLASH = re.compile(r"(?<![\w/])(/[a-z]+)\b(?![/.])")
PATH = re.compile(r"`((?:deploy|config|src|tests)/[\w./-]+)`")


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _make_targets() -> set[str]:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))


@pytest.mark.parametrize("title", SECTIONS)
def test_it_is_a_numbered_walk_through(title: str) -> None:
    steps = [int(n) for n in re.findall(r"^(\d+)\. ", _section(title), re.MULTILINE)]
    assert len(steps) >= 6
    assert steps == list(range(1, len(steps) + 1))
    text = _section(title)
    assert "launchops doctor" in text
    assert "make run" in text


@pytest.mark.parametrize("title", SECTIONS)
def test_it_names_only_real_commands_settings_and_files(title: str) -> None:
    text = _section(title)
    known_settings = _declared_env_names() | PACKAGE_VARIABLES
    named = set(SETTING.findall(text)) | set(SETTING_ASSIGNED.findall(text))
    named |= set(ENV_NAME.findall(text))
    assert named, "no setting found: the patterns broke"
    unknown = sorted(named - known_settings)
    assert not unknown, f"{title}: settings nobody reads: {unknown}"
    commands = set(LAUNCHOPS_COMMAND.findall(text))
    assert "doctor" in commands
    cli = _cli_commands()
    unknown = sorted(c for c in commands if c not in cli and c.split()[0] not in cli)
    assert not unknown, f"{title}: no such launchops command: {unknown}"
    targets = set(MAKE_TARGET.findall(text))
    assert not targets - _make_targets(), f"{title}: no such make target"
    for path in PATH.findall(text):
        assert (REPO_ROOT / path).exists(), f"{title}: {path} does not exist"


def test_the_slack_walk_through_names_the_manifests_commands() -> None:
    text = _section("Deploy to Slack")
    manifest = yaml.safe_load((REPO_ROOT / "deploy" / "slack-app-manifest.yaml").read_text())
    declared = {c["command"] for c in manifest["features"]["slash_commands"]}
    used = {s for s in SLASH.findall(text) if s not in {"/slack", "/api", "/invite"}}
    assert used >= declared, "a slash command of the manifest is not introduced"
    assert used <= declared | {"/invite"}, f"not in the manifest: {used - declared}"


def test_the_teams_walk_through_builds_the_package() -> None:
    text = _section("Deploy to Teams")
    assert "make teams-package" in text
    assert "teams-package" in _make_targets()
    assert "/api/messages" in text
