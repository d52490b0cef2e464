"""The files in deploy/ parse, and name only things the code really has.

Nothing here builds an image or talks to a cluster: the checks are on the text, against the
package itself (Settings' environment names, the CLI's commands and the HTTP routes), so a
rename in src/ that a deployment file missed fails here. The alert rules (against the
Prometheus metrics the code exports) and the Helm chart have files of their own:
test_alert_rules.py and test_chart_files.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from pydantic import AliasChoices

from launchops.cli import app as cli_app
from launchops.messages.i18n import t
from launchops.settings import Settings
from tests.deploy.deploy_kit import CHART, DEPLOY, TEMPLATES, _route_paths, _yaml

EXPECTED_FILES = [
    "Dockerfile",
    "docker-compose.yml",
    "slack-app-manifest.yaml",
    "teams/manifest.json",
    "teams/README.md",
    "teams/package.py",
    "teams/color.png",
    "teams/outline.png",
    "prometheus/alert-rules.yml",
    "helm/launchops/Chart.yaml",
    "helm/launchops/values.yaml",
    "helm/launchops/templates/_helpers.tpl",
    "helm/launchops/templates/deployment.yaml",
    "helm/launchops/templates/service.yaml",
    "helm/launchops/templates/configmap.yaml",
    "helm/launchops/templates/secret.yaml",
    "README.md",
]
SLASH_COMMANDS = {"/incident", "/owner", "/gate", "/launchops"}
SLACK_BOT_SCOPES = {
    "app_mentions:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "files:write",
    "im:history",
    "im:write",
    "channels:manage",
    "channels:read",
}
TEAMS_SCOPES = {"personal", "team", "groupChat"}
# Environment names the deployment files may use only if Settings declares them.
ENV_NAME = re.compile(r"\b(?:SLACK|LAUNCHOPS)_[A-Z0-9_]+\b|\bMicrosoft[A-Za-z]+\b")


# --- helpers ---------------------------------------------------------------------------------


def _data_files() -> list[Path]:
    return sorted(
        p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml", ".json"}
    )


def _is_helm_template(path: Path) -> bool:
    return TEMPLATES in path.parents and "{{" in path.read_text(encoding="utf-8")


def _declared_env_names() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
    return names


def _cli_commands() -> set[str]:
    """`launchops` commands as 'serve', 'db upgrade', 'config sync', ..."""
    root = typer.main.get_command(cli_app)
    found: set[str] = set()

    def walk(command: Any, prefix: str) -> None:
        # Typer ships its own copy of click, so groups are told apart by their subcommands.
        subcommands = getattr(command, "commands", None)
        if isinstance(subcommands, dict) and subcommands:
            for name, sub in subcommands.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            found.add(prefix)

    walk(root, "")
    return found


# --- every file -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXPECTED_FILES)
def test_expected_file_exists(name: str) -> None:
    assert (DEPLOY / name).is_file(), f"deploy/{name} is missing"


# Helm templates are YAML only after rendering; test_chart_files.py checks them instead.
@pytest.mark.parametrize(
    "path",
    [p for p in _data_files() if not _is_helm_template(p)],
    ids=lambda p: str(p.relative_to(DEPLOY)),
)
def test_data_file_parses(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        assert isinstance(json.loads(text), dict)
        return
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    assert documents, f"{path} holds no YAML document"


def test_the_data_files_are_found() -> None:
    names = {str(p.relative_to(DEPLOY)) for p in _data_files()}
    assert {"docker-compose.yml", "helm/launchops/values.yaml", "teams/manifest.json"} <= names


def test_env_names_are_the_ones_settings_declares() -> None:
    declared = _declared_env_names()
    assert {"SLACK_BOT_TOKEN", "LAUNCHOPS_DATABASE_URL", "MicrosoftAppId"} <= declared
    files = [DEPLOY / "Dockerfile", DEPLOY / "docker-compose.yml"]
    files += sorted(p for p in CHART.rglob("*") if p.is_file())
    used: dict[str, set[str]] = {}
    for path in files:
        for name in ENV_NAME.findall(path.read_text(encoding="utf-8")):
            used.setdefault(name, set()).add(str(path.relative_to(DEPLOY)))
    assert {"LAUNCHOPS_DATABASE_URL", "LAUNCHOPS_CONFIG_DIR", "LAUNCHOPS_HOST"} <= set(used)
    unknown = {name: sorted(where) for name, where in used.items() if name not in declared}
    assert not unknown, f"not declared by Settings: {unknown}"


# --- Dockerfile and compose -----------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    rows = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def test_dockerfile() -> None:
    rows = _dockerfile_instructions()
    by_keyword: dict[str, list[str]] = {}
    for keyword, rest in rows:
        by_keyword.setdefault(keyword, []).append(rest)
    assert by_keyword["FROM"] == ["python:3.11-slim"]
    runs = by_keyword["RUN"]
    # The locked install first (hashes required), then the project alone.
    locked = next(i for i, run in enumerate(runs) if "-r requirements.lock" in run)
    assert "--require-hashes" in runs[locked]
    assert "--no-deps" in runs[locked]
    project = next(i for i, run in enumerate(runs) if "pip install --no-deps ." in run)
    assert locked < project
    assert "requirements.lock ./" in by_keyword["COPY"]
    users = by_keyword["USER"]
    assert users, "the image must switch to a non-root USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert "3000" in by_keyword["EXPOSE"]
    env = " ".join(by_keyword["ENV"])
    assert "LAUNCHOPS_HOST=0.0.0.0" in env
    assert "LAUNCHOPS_CONFIG_DIR=/app/config" in env
    (healthcheck,) = by_keyword["HEALTHCHECK"]
    assert "/healthz" in healthcheck
    assert "urllib" in healthcheck
    assert "curl" not in healthcheck
    (cmd,) = by_keyword["CMD"]
    argv = json.loads(cmd)
    assert argv[:2] == ["sh", "-c"]
    steps = [step.strip().removeprefix("exec ") for step in argv[2].split("&&")]
    assert steps == ["launchops db upgrade", "launchops config sync", "launchops serve"]


def test_dockerfile_commands_and_paths_exist() -> None:
    commands = _cli_commands()
    assert {"serve", "db upgrade", "config sync"} <= commands
    routes = _route_paths()
    assert {"/healthz", "/readyz", "/metrics", "/slack/events", "/api/messages"} <= routes


def test_compose() -> None:
    compose = _yaml(DEPLOY / "docker-compose.yml")
    services = compose["services"]
    postgres = services["postgres"]
    assert str(postgres["image"]).startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
    bot = services["bot"]
    assert bot["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve() == (
        DEPLOY / "Dockerfile"
    ).resolve()
    env_files = [e["path"] if isinstance(e, dict) else e for e in bot["env_file"]]
    assert any(Path(e).name == ".env" for e in env_files)
    assert bot["environment"]["LAUNCHOPS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in bot["environment"]["LAUNCHOPS_DATABASE_URL"]
    assert bot["environment"]["LAUNCHOPS_CONFIG_DIR"] == "/app/config"
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["deploy"]["replicas"] == 2


# --- Slack and Teams manifests --------------------------------------------------------------


def test_slack_manifest() -> None:
    manifest = _yaml(DEPLOY / "slack-app-manifest.yaml")
    features = manifest["features"]
    assert features["bot_user"]["display_name"]
    commands = {c["command"]: c for c in features["slash_commands"]}
    assert set(commands) >= SLASH_COMMANDS
    for name, command in commands.items():
        assert command["url"].startswith("https://"), name
        assert command["url"].endswith("/slack/events"), name
        assert command["description"], name
        assert command["usage_hint"], name
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= SLACK_BOT_SCOPES
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert set(settings["event_subscriptions"]["bot_events"]) >= {"app_mention", "message.im"}
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    assert settings["socket_mode_enabled"] is False
    assert settings["org_deploy_enabled"] is False


def test_teams_manifest() -> None:
    path = DEPLOY / "teams" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest["manifestVersion"] == "1.17"
    assert manifest["$schema"].endswith("/teams/v1.17/MicrosoftTeams.schema.json")
    for key in ("version", "id", "developer", "name", "description", "icons", "accentColor"):
        assert manifest[key], key
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    (bot,) = manifest["bots"]
    assert bot["botId"] == "{{MicrosoftAppId}}"
    assert set(bot["scopes"]) == TEAMS_SCOPES
    titles: set[str] = set()
    for command_list in bot["commandLists"]:
        assert set(command_list["scopes"]) <= set(bot["scopes"])
        assert len(command_list["commands"]) <= 10
        for command in command_list["commands"]:
            assert 0 < len(command["title"]) <= 32
            assert 0 < len(command["description"]) <= 128
            titles.add(command["title"])
    assert titles == _help_commands(), "the Teams command list and `help` disagree"
    assert manifest["validDomains"]
    assert not any("://" in d for d in manifest["validDomains"])


def _help_commands() -> set[str]:
    """The commands `help` lists, by their keywords: `who owns`, `owns`, `incident`, ..."""
    commands: set[str] = set()
    for line in t("help.text", "en").splitlines():
        usage, dash, _ = line.partition(" — ")
        if not dash:
            continue  # a section heading
        words = usage.split()
        commands.add(" ".join(words[:2]) if words[0] == "who" else words[0])
    return commands


def test_help_commands_are_read() -> None:
    assert {"who owns", "owns", "incident", "gate", "deploy", "help"} <= _help_commands()


def test_teams_placeholders_are_documented() -> None:
    text = (DEPLOY / "teams" / "manifest.json").read_text(encoding="utf-8")
    readme = (DEPLOY / "teams" / "README.md").read_text(encoding="utf-8")
    placeholders = set(re.findall(r"\{\{\w+\}\}", text))
    assert "{{MicrosoftAppId}}" in placeholders
    missing = {p for p in placeholders if p not in readme}
    assert not missing, f"placeholders not explained in teams/README.md: {missing}"
    for icon in ("color.png", "outline.png"):
        assert icon in readme
