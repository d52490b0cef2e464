"""`launchops doctor`: all in order exits 0; each broken setting, one at a time, is named and
exits 1.

Slack is the loopback fake Web API (with the `x-oauth-scopes` header real Slack sends on every
Web API answer), Teams a loopback token endpoint speaking the client-credentials grant like
Microsoft's; the database is a migrated SQLite file (and the real PostgreSQL once).
"""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from launchops.cli import app
from launchops.doctor import REQUIRED_SLACK_SCOPES
from launchops.settings import Settings
from launchops.store import upgrade_schema
from launchops.store.db import alembic_config
from tests.fakes import HttpRequest, HttpResponse, LoopbackServer
from tests.fakes.slack_api import FakeSlackAPI

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_ID = "00000000-0000-0000-0000-00000000b07a"
APP_PASSWORD = "a-client-secret"
MANIFEST = REPO_ROOT / "deploy" / "slack-app-manifest.yaml"


def _manifest_scopes() -> set[str]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return set(data["oauth_config"]["scopes"]["bot"])


class ScopedSlackAPI(FakeSlackAPI):
    """The fake Web API, with the token's scopes in `x-oauth-scopes` as Slack reports them."""

    def __init__(self) -> None:
        super().__init__()
        self.scopes = sorted(_manifest_scopes())

    def handle(self, request: HttpRequest) -> HttpResponse:
        response = super().handle(request)
        headers = {**response.headers, "x-oauth-scopes": ",".join(self.scopes)}
        return replace(response, headers=headers)


class FakeTokenEndpoint(LoopbackServer):
    """Microsoft identity platform's token endpoint, for one app id and secret."""

    def handle(self, request: HttpRequest) -> HttpResponse:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if request.path != "/token" or form.get("grant_type") != "client_credentials":
            return HttpResponse.of_json({"error": "invalid_request"}, status=400)
        if form.get("client_id") != APP_ID:
            return HttpResponse.of_json(
                {
                    "error": "unauthorized_client",
                    "error_description": "AADSTS700016: Application with identifier "
                    f"'{form.get('client_id')}' was not found in the directory.\nTrace ID: 1",
                },
                status=400,
            )
        if form.get("client_secret") != APP_PASSWORD:
            return HttpResponse.of_json(
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.\n"
                    "Trace ID: 2",
                },
                status=401,
            )
        assert form.get("scope") == "https://api.botframework.com/.default"
        return HttpResponse.of_json(
            {"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ0eXAi.test"}
        )

    @property
    def url(self) -> str:
        return f"{self.origin}/token"


@dataclass
class Doctor:
    env: dict[str, str]
    slack: ScopedSlackAPI
    tokens: FakeTokenEndpoint
    monkeypatch: pytest.MonkeyPatch

    def run(self, **changes: str | None) -> tuple[int, str]:
        """`launchops doctor` with the healthy environment, changed as given (None unsets)."""
        for name, value in {**self.env, **changes}.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)
        result = CliRunner().invoke(app, ["doctor"])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result.exit_code, result.output


def _failed_settings(output: str) -> set[str]:
    """The `setting:` named under each ✗ line."""
    names: set[str] = set()
    failing = False
    for line in output.splitlines():
        if not line.startswith(" "):
            failing = line.startswith("✗")
        elif failing and line.strip().startswith("setting:"):
            names.add(line.split(":", 1)[1].strip())
    return names


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def doctor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Doctor]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        for name in getattr(alias, "choices", []):
            monkeypatch.delenv(str(name), raising=False)
    url = f"sqlite:///{tmp_path / 'launchops.db'}"
    upgrade_schema(url)
    with ScopedSlackAPI() as slack, FakeTokenEndpoint() as tokens:
        env = {
            "LAUNCHOPS_CONFIG_DIR": str(REPO_ROOT / "config"),
            "LAUNCHOPS_DATABASE_URL": url,
            "LAUNCHOPS_API_TOKEN": secrets.token_urlsafe(32),
            "SLACK_BOT_TOKEN": "xoxb-1-doctor",
            "SLACK_SIGNING_SECRET": "signing-secret",
            "SLACK_API_URL": slack.url,
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": APP_PASSWORD,
            "LAUNCHOPS_TEAMS_TOKEN_URL": tokens.url,
            "LAUNCHOPS_CHAT_PLATFORMS": "slack,teams",
        }
        yield Doctor(env, slack, tokens, monkeypatch)


def test_all_in_order_exits_0(doctor: Doctor) -> None:
    code, output = doctor.run()
    assert code == 0, output
    assert "✗" not in output
    for name in (
        "config",
        "database",
        "migrations",
        "api token",
        "chat platforms",
        "slack auth.test",
        "slack scopes",
        "teams token",
    ):
        assert re.search(rf"^✓ {name}: ", output, re.MULTILINE), (name, output)
    assert "bot launchops (UBOT)" in output
    assert doctor.slack.calls("auth.test")[0].token == "xoxb-1-doctor"
    assert doctor.env["LAUNCHOPS_API_TOKEN"] not in output
    assert APP_PASSWORD not in output


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_all_in_order_on_postgresql(doctor: Doctor, db_url: str) -> None:
    code, output = doctor.run(LAUNCHOPS_DATABASE_URL=db_url)
    assert code == 0, output
    assert re.search(r"^✓ database: connected to postgresql\+psycopg://", output, re.MULTILINE)
    assert re.search(r"^✓ migrations: at head ", output, re.MULTILINE)


def _older_database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_revision(script.get_current_head())
    assert head is not None
    previous = head.down_revision
    assert isinstance(previous, str)
    upgrade_schema(url, previous)
    return url


BROKEN: dict[str, tuple[str, dict[str, Any]]] = {
    # id: (setting named, changes; "{tmp}" / "{closed}" filled in)
    "config dir empty": ("LAUNCHOPS_CONFIG_DIR", {"LAUNCHOPS_CONFIG_DIR": "{tmp}/none"}),
    "sqlite file missing": (
        "LAUNCHOPS_DATABASE_URL",
        {"LAUNCHOPS_DATABASE_URL": "sqlite:///{tmp}/missing.db"},
    ),
    "postgres unreachable": (
        "LAUNCHOPS_DATABASE_URL",
        {"LAUNCHOPS_DATABASE_URL": "postgresql+psycopg://bot:hunter2@127.0.0.1:{closed}/x"},
    ),
    "not a url": ("LAUNCHOPS_DATABASE_URL", {"LAUNCHOPS_DATABASE_URL": "launchops.db"}),
    "api token unset": ("LAUNCHOPS_API_TOKEN", {"LAUNCHOPS_API_TOKEN": None}),
    "api token weak": ("LAUNCHOPS_API_TOKEN", {"LAUNCHOPS_API_TOKEN": "changeme"}),
    "api token repetitive": ("LAUNCHOPS_API_TOKEN", {"LAUNCHOPS_API_TOKEN": "ab" * 20}),
    "port invalid": ("LAUNCHOPS_PORT", {"LAUNCHOPS_PORT": "eighty"}),
    "slack user token": ("SLACK_BOT_TOKEN", {"SLACK_BOT_TOKEN": "xoxp-1-person"}),
    "slack no signing secret": ("SLACK_SIGNING_SECRET", {"SLACK_SIGNING_SECRET": None}),
    "slack app token wrong": ("SLACK_APP_TOKEN", {"SLACK_APP_TOKEN": "xoxb-not-an-app-token"}),
    "slack api unreachable": (
        "SLACK_API_URL",
        {"SLACK_API_URL": "http://127.0.0.1:{closed}/api/"},
    ),
    "teams password unset": ("MicrosoftAppPassword", {"MicrosoftAppPassword": None}),
    "teams password wrong": ("MicrosoftAppPassword", {"MicrosoftAppPassword": "expired"}),
    "teams app id wrong": ("MicrosoftAppId", {"MicrosoftAppId": "not-registered"}),
    "teams app type": ("MicrosoftAppType", {"MicrosoftAppType": "Personal"}),
    "teams single tenant": ("MicrosoftAppTenantId", {"MicrosoftAppType": "SingleTenant"}),
    "teams token url unreachable": (
        "LAUNCHOPS_TEAMS_TOKEN_URL",
        {"LAUNCHOPS_TEAMS_TOKEN_URL": "http://127.0.0.1:{closed}/token"},
    ),
    "platforms name teams while off": (
        "LAUNCHOPS_CHAT_PLATFORMS",
        {"LAUNCHOPS_CHAT_PLATFORMS": "teams", "MicrosoftAppId": None},
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_broken_setting_is_named_and_exits_1(
    doctor: Doctor, tmp_path: Path, case: str
) -> None:
    setting, changes = BROKEN[case]
    closed = str(_closed_port())
    filled = {
        name: None if value is None else value.format(tmp=tmp_path, closed=closed)
        for name, value in changes.items()
    }
    code, output = doctor.run(**filled)
    assert code == 1, output
    assert _failed_settings(output) == {setting}, output
    assert "fix: " in output or "invalid" in output
    assert re.search(r"^\d+ problem\(s\) found$", output, re.MULTILINE)
    assert "hunter2" not in output


def test_slack_refusing_the_token_names_it(doctor: Doctor) -> None:
    doctor.slack.set_response("auth.test", {"ok": False, "error": "invalid_auth"})
    code, output = doctor.run()
    assert code == 1
    assert "Slack refused the bot token: invalid_auth" in output
    assert _failed_settings(output) == {"SLACK_BOT_TOKEN"}


def test_missing_slack_scopes_are_listed(doctor: Doctor) -> None:
    doctor.slack.scopes = [s for s in doctor.slack.scopes if s not in {"commands", "im:write"}]
    code, output = doctor.run()
    assert code == 1
    line = next(x for x in output.splitlines() if x.startswith("✗ slack scopes"))
    assert "commands, im:write" in line
    assert _failed_settings(output) == {"SLACK_BOT_TOKEN"}


def test_older_migration_level_says_upgrade(doctor: Doctor, tmp_path: Path) -> None:
    code, output = doctor.run(LAUNCHOPS_DATABASE_URL=_older_database(tmp_path))
    assert code == 1
    assert re.search(r"^✓ database: ", output, re.MULTILINE)
    assert re.search(r"^✗ migrations: the database is at \w+, the code's head is", output, re.M)
    assert "launchops db upgrade" in output
    assert _failed_settings(output) == {"LAUNCHOPS_DATABASE_URL"}


def test_anonymous_teams_is_said_not_failed(doctor: Doctor) -> None:
    code, output = doctor.run(
        MicrosoftAppId=None,
        LAUNCHOPS_TEAMS_ANONYMOUS="true",
        LAUNCHOPS_CHAT_PLATFORMS="slack,teams",
    )
    assert code == 0, output
    assert "– teams: anonymous mode (LAUNCHOPS_TEAMS_ANONYMOUS=true)" in output
    assert doctor.tokens.problems == []


def test_slack_and_teams_off_are_not_failures(doctor: Doctor) -> None:
    code, output = doctor.run(
        SLACK_BOT_TOKEN=None, MicrosoftAppId=None, LAUNCHOPS_CHAT_PLATFORMS=None
    )
    assert code == 0, output
    assert "– slack: SLACK_BOT_TOKEN is not set" in output
    assert "– teams: MicrosoftAppId is not set" in output
    assert doctor.slack.calls() == []


def test_built_in_scopes_match_the_manifest() -> None:
    """Doctor falls back to its own list where deploy/ is absent (an installed package)."""
    assert set(REQUIRED_SLACK_SCOPES) == _manifest_scopes(), (
        "the manifest's bot scopes changed: update REQUIRED_SLACK_SCOPES in doctor/chat_checks.py"
    )
