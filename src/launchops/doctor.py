"""`launchops doctor`: every setting a deployment needs, checked for real, with how to fix it.

Each check says ✓ (works), ✗ (broken: what is wrong, the setting to change and how) or
– (off or not applicable, e.g. Slack without a token). Any ✗ makes the command exit 1.

The checks talk to what the bot talks to: the database (and its Alembic level against the
code's head), Slack's `auth.test` at SLACK_API_URL (whose `x-oauth-scopes` header lists the
scopes the installed app really has) and the Teams token endpoint (a client-credentials token
request, as the Bot Connector client makes). Nothing is written anywhere: a missing SQLite file
is reported, never created.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml
from pydantic import ValidationError

from launchops.settings import Settings

__all__ = [
    "REQUIRED_SLACK_SCOPES",
    "Check",
    "check_settings",
    "format_check",
    "run_checks",
]

Status = Literal["ok", "fail", "off"]
MARKS: dict[Status, str] = {"ok": "✓", "fail": "✗", "off": "–"}

# The bot scopes the code calls Slack with (deploy/slack-app-manifest.yaml lists the same; a
# test keeps the two equal). The manifest wins when doctor runs from a source checkout.
REQUIRED_SLACK_SCOPES = frozenset(
    {
        "app_mentions:read",
        "channels:manage",
        "channels:read",
        "chat:write",
        "chat:write.public",
        "commands",
        "groups:write",
        "im:history",
        "im:read",
        "im:write",
        "users:read",
    }
)
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
TEAMS_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"  # noqa: S105
APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")
MIN_API_TOKEN_LENGTH = 32
MIN_API_TOKEN_DISTINCT = 12
NEW_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105
TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    """One line of the report (and, when broken, what to change)."""

    name: str
    status: Status
    detail: str
    setting: str = ""  # the environment name to change, when one is to blame
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def format_check(check: Check) -> str:
    lines = [f"{MARKS[check.status]} {check.name}: {check.detail}"]
    if check.setting:
        lines.append(f"    setting: {check.setting}")
    if check.fix:
        lines.append(f"    fix: {check.fix}")
    return "\n".join(lines)


def check_settings() -> tuple[Settings | None, list[Check]]:
    """Read the settings; each invalid one is a failed check naming its environment variable."""
    try:
        return Settings(), []
    except ValidationError as error:
        checks = []
        for problem in error.errors():
            name = ".".join(str(p) for p in problem["loc"])
            checks.append(
                Check(
                    "settings",
                    "fail",
                    f"{name} is invalid: {problem['msg']}",
                    setting=name,
                    fix=f"correct {name} in the environment or .env",
                )
            )
        return None, checks


def run_checks(settings: Settings) -> Iterator[Check]:
    """Every check, in the order a deployment needs them; each one is independent."""
    yield _check_config(settings)
    yield from _check_database(settings)
    yield _check_api_token(settings)
    yield from _check_platforms(settings)
    yield from _check_slack(settings)
    yield from _check_teams(settings)


# --- configuration and store -------------------------------------------------------------


def _check_config(settings: Settings) -> Check:
    from launchops.config import ConfigError, load_config

    path = settings.config_dir
    try:
        config = load_config(path)
    except ConfigError as error:
        shown = "; ".join(str(p) for p in error.problems[:3])
        more = f" (and {len(error.problems) - 3} more)" if len(error.problems) > 3 else ""
        return Check(
            "config",
            "fail",
            f"{len(error.problems)} problem(s) in {path}: {shown}{more}",
            setting="LAUNCHOPS_CONFIG_DIR",
            fix=f"`launchops config check {path}` lists each with file and line; or point "
            "LAUNCHOPS_CONFIG_DIR at the directory holding catalog.yaml and policy.yaml",
        )
    catalog = config.catalog
    return Check(
        "config",
        "ok",
        f"{path}: {len(catalog.people)} people, {len(catalog.teams)} teams, "
        f"{len(catalog.components)} components, {len(catalog.projects)} projects",
    )


def _check_database(settings: Settings) -> Iterator[Check]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from launchops.store import make_engine
    from launchops.store.db import alembic_config

    setting = "LAUNCHOPS_DATABASE_URL"
    try:
        url = make_url(settings.database_url)
    except (ArgumentError, ValueError) as error:
        yield Check(
            "database",
            "fail",
            f"not a database URL: {error}",
            setting=setting,
            fix="use sqlite:///./var/launchops.db or postgresql+psycopg://user:pass@host/db",
        )
        return
    shown = url.render_as_string(hide_password=True)
    upgrade = "run `launchops db upgrade` (`make run` and the container do it at start)"
    sqlite_file = url.database if url.get_backend_name() == "sqlite" else None
    if sqlite_file and sqlite_file != ":memory:" and not Path(sqlite_file).exists():
        yield Check(
            "database",
            "fail",
            f"{shown}: the file does not exist yet",
            setting=setting,
            fix=f"{upgrade}, or point {setting} at the existing store",
        )
        return
    try:
        engine = make_engine(url.render_as_string(hide_password=False))
    except (SQLAlchemyError, ImportError, ValueError) as error:
        yield Check("database", "fail", f"{shown}: {_first_line(error)}", setting=setting)
        return
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        yield Check(
            "database",
            "fail",
            f"cannot connect to {shown}: {_first_line(error)}",
            setting=setting,
            fix=f"check host, port, user and password in {setting}, and that the server is up",
        )
        return
    finally:
        engine.dispose()
    yield Check("database", "ok", f"connected to {shown}")

    script = ScriptDirectory.from_config(alembic_config(settings.database_url))
    heads = set(script.get_heads())
    known = {revision.revision for revision in script.walk_revisions()}
    if current == heads:
        yield Check("migrations", "ok", f"at head {_revisions(heads)}")
    elif current - known:
        yield Check(
            "migrations",
            "fail",
            f"the database is at {_revisions(current)}, which this code does not know "
            f"(its head is {_revisions(heads)}): it was migrated by a newer LaunchOps",
            setting=setting,
            fix="run the newer version, or point the setting at this version's database",
        )
    else:
        yield Check(
            "migrations",
            "fail",
            f"the database is at {_revisions(current) if current else 'no revision (empty)'}, "
            f"the code's head is {_revisions(heads)}",
            setting=setting,
            fix=upgrade,
        )


def _revisions(revisions: set[str]) -> str:
    return ", ".join(sorted(revisions))


# --- API token and platforms ----------------------------------------------------------------


def _check_api_token(settings: Settings) -> Check:
    setting = "LAUNCHOPS_API_TOKEN"
    fix = f"set it to a long random value, e.g. the output of {NEW_TOKEN}"
    if settings.api_token is None or not settings.api_token.get_secret_value():
        return Check(
            "api token",
            "fail",
            "not set: every /api/v1 call (Alertmanager, failures, deployments) answers 503",
            setting=setting,
            fix=fix,
        )
    token = settings.api_token.get_secret_value()
    weak = []
    if len(token) < MIN_API_TOKEN_LENGTH:
        weak.append(f"{len(token)} characters (at least {MIN_API_TOKEN_LENGTH})")
    if len(set(token)) < MIN_API_TOKEN_DISTINCT:
        weak.append(f"only {len(set(token))} different characters")
    if token.strip(string.whitespace) != token:
        weak.append("leading or trailing spaces")
    if weak:
        return Check("api token", "fail", "too weak: " + ", ".join(weak), setting=setting, fix=fix)
    return Check("api token", "ok", f"set ({len(token)} characters)")


def _check_platforms(settings: Settings) -> Iterator[Check]:
    if not settings.chat_platforms:
        return
    # A bot token without its signing secret is the Slack check's failure; not repeated here.
    enabled = {
        "slack": settings.slack_enabled or settings.slack_bot_token is not None,
        "teams": settings.teams_enabled,
        "console": True,
    }
    off = [name for name in settings.chat_platforms.split(",") if not enabled[name]]
    if not off:
        yield Check("chat platforms", "ok", f"pages go to {settings.chat_platforms}")
        return
    needs = {
        "slack": "SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN)",
        "teams": "MicrosoftAppId and MicrosoftAppPassword",
    }
    yield Check(
        "chat platforms",
        "fail",
        f"pages go to {', '.join(off)}, which is off",
        setting="LAUNCHOPS_CHAT_PLATFORMS",
        fix="set "
        + "; ".join(needs[n] for n in off)
        + ", or leave "
        + ", ".join(off)
        + " out of LAUNCHOPS_CHAT_PLATFORMS",
    )


# --- Slack ---------------------------------------------------------------------------------


def _slack_manifest_scopes() -> tuple[frozenset[str], str]:
    """The manifest's bot scopes when running from a source checkout, else the built-in list."""
    manifest = Path(str(resources.files("launchops"))).parents[1] / "deploy"
    path = manifest / "slack-app-manifest.yaml"
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        scopes = data["oauth_config"]["scopes"]["bot"]
        return frozenset(str(s) for s in scopes), "deploy/slack-app-manifest.yaml"
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return REQUIRED_SLACK_SCOPES, "the scopes the code uses"


def _check_slack(settings: Settings) -> Iterator[Check]:
    bot_token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    if not bot_token:
        yield Check(
            "slack",
            "off",
            "SLACK_BOT_TOKEN is not set"
            + (
                ", so SLACK_SIGNING_SECRET/SLACK_APP_TOKEN are unused"
                if _slack_half(settings)
                else ""
            ),
        )
        return
    ok = True
    if not bot_token.startswith("xoxb-"):
        ok = False
        yield Check(
            "slack token",
            "fail",
            "SLACK_BOT_TOKEN is not a bot token (bot tokens start with xoxb-)",
            setting="SLACK_BOT_TOKEN",
            fix="copy the Bot User OAuth Token from the app's OAuth & Permissions page",
        )
    if settings.slack_signing_secret is None and settings.slack_app_token is None:
        ok = False
        yield Check(
            "slack requests",
            "fail",
            "neither SLACK_SIGNING_SECRET (HTTP events) nor SLACK_APP_TOKEN (Socket Mode) is set, "
            "so Slack is off",
            setting="SLACK_SIGNING_SECRET",
            fix="copy the Signing Secret from the app's Basic Information page (or set an "
            "xapp- SLACK_APP_TOKEN for Socket Mode)",
        )
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    if app_token and not app_token.startswith("xapp-"):
        ok = False
        yield Check(
            "slack app token",
            "fail",
            "SLACK_APP_TOKEN is not an app-level token (they start with xapp-)",
            setting="SLACK_APP_TOKEN",
            fix="generate one with the connections:write scope under Basic Information",
        )
    if not ok:
        return
    yield from _slack_auth_test(settings, bot_token)


def _slack_half(settings: Settings) -> bool:
    return settings.slack_signing_secret is not None or settings.slack_app_token is not None


def _slack_auth_test(settings: Settings, token: str) -> Iterator[Check]:
    url = settings.slack_api_url + "auth.test"
    try:
        response = httpx.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
        body = response.json()
    except (httpx.HTTPError, ValueError) as error:
        yield Check(
            "slack auth.test",
            "fail",
            f"cannot reach {url}: {_first_line(error)}",
            setting="SLACK_API_URL",
            fix="check the network/proxy, or unset SLACK_API_URL to use https://slack.com/api/",
        )
        return
    if not isinstance(body, dict) or not body.get("ok"):
        refusal = body.get("error") if isinstance(body, dict) else f"HTTP {response.status_code}"
        yield Check(
            "slack auth.test",
            "fail",
            f"Slack refused the bot token: {refusal}",
            setting="SLACK_BOT_TOKEN",
            fix="copy the current Bot User OAuth Token (reinstalling the app changes it)",
        )
        return
    yield Check(
        "slack auth.test",
        "ok",
        f"bot {body.get('user', '?')} ({body.get('user_id', '?')}) in "
        f"{body.get('team', '?')} ({body.get('team_id', '?')})",
    )
    header = response.headers.get("x-oauth-scopes")
    wanted, source = _slack_manifest_scopes()
    if header is None:
        yield Check(
            "slack scopes", "off", "Slack did not report the token's scopes (x-oauth-scopes)"
        )
        return
    granted = {s.strip() for s in header.split(",") if s.strip()}
    missing = sorted(wanted - granted)
    if missing:
        yield Check(
            "slack scopes",
            "fail",
            f"the app lacks {', '.join(missing)} (wanted by {source})",
            setting="SLACK_BOT_TOKEN",
            fix="add them under OAuth & Permissions → Bot Token Scopes (or update the app from "
            "deploy/slack-app-manifest.yaml), reinstall the app and use the new bot token",
        )
    else:
        yield Check("slack scopes", "ok", f"all {len(wanted)} scopes granted")


# --- Teams ---------------------------------------------------------------------------------


def _check_teams(settings: Settings) -> Iterator[Check]:
    if not settings.microsoft_app_id:
        if settings.teams_anonymous:
            yield Check(
                "teams",
                "off",
                "anonymous mode (LAUNCHOPS_TEAMS_ANONYMOUS=true): unauthenticated activities "
                "are accepted; for the Bot Framework Emulator and tests only, never production",
            )
        else:
            yield Check("teams", "off", "MicrosoftAppId is not set, so /api/messages answers 503")
        return
    broken = False
    if not settings.microsoft_app_password.get_secret_value():
        broken = True
        yield Check(
            "teams credentials",
            "fail",
            "MicrosoftAppPassword is not set",
            setting="MicrosoftAppPassword",
            fix="create a client secret for the app registration (Certificates & secrets)",
        )
    app_type = next((t for t in APP_TYPES if t.lower() == settings.microsoft_app_type.lower()), "")
    if not app_type:
        broken = True
        yield Check(
            "teams app type",
            "fail",
            f"MicrosoftAppType is {settings.microsoft_app_type!r}",
            setting="MicrosoftAppType",
            fix=f"use one of {', '.join(APP_TYPES)} (as in the Azure Bot's configuration)",
        )
    elif app_type == "SingleTenant" and not settings.microsoft_app_tenant_id:
        broken = True
        yield Check(
            "teams app type",
            "fail",
            "a SingleTenant app needs its tenant",
            setting="MicrosoftAppTenantId",
            fix="set the Directory (tenant) ID of the app registration",
        )
    if settings.teams_anonymous:
        yield Check(
            "teams anonymous",
            "off",
            "LAUNCHOPS_TEAMS_ANONYMOUS=true is ignored while MicrosoftAppId is set",
        )
    if broken:
        return
    yield _teams_token(settings, app_type)


def _teams_token_url(settings: Settings, app_type: str) -> str:
    if settings.teams_token_url:
        return settings.teams_token_url
    tenant = settings.microsoft_app_tenant_id if app_type == "SingleTenant" else ""
    return TEAMS_TOKEN_URL.format(tenant=tenant or "botframework.com")


def _teams_token(settings: Settings, app_type: str) -> Check:
    url = _teams_token_url(settings, app_type)
    form = {
        "grant_type": "client_credentials",
        "client_id": settings.microsoft_app_id,
        "client_secret": settings.microsoft_app_password.get_secret_value(),
        "scope": BOT_FRAMEWORK_SCOPE,
    }
    try:
        response = httpx.post(url, data=form, timeout=TIMEOUT)
        body = response.json()
    except (httpx.HTTPError, ValueError) as error:
        return Check(
            "teams token",
            "fail",
            f"cannot get a token from {url}: {_first_line(error)}",
            setting="LAUNCHOPS_TEAMS_TOKEN_URL",
            fix="check the network/proxy; unset LAUNCHOPS_TEAMS_TOKEN_URL for Microsoft's endpoint",
        )
    if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        return Check("teams token", "ok", f"{app_type} app {settings.microsoft_app_id} got a token")
    code = str(body.get("error", "")) if isinstance(body, dict) else ""
    description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
    reason = _first_line(description) if description else code or f"HTTP {response.status_code}"
    wrong_id = code == "unauthorized_client" or "AADSTS700016" in description
    wrong_tenant = "AADSTS90002" in description or "AADSTS50020" in description
    setting = (
        "MicrosoftAppId"
        if wrong_id
        else "MicrosoftAppTenantId"
        if wrong_tenant
        else "MicrosoftAppPassword"
    )
    return Check(
        "teams token",
        "fail",
        f"{url} refused the app's credentials: {reason}",
        setting=setting,
        fix="copy the Microsoft App ID and a current client secret from the Azure Bot's "
        "configuration (secrets expire), and the tenant for a SingleTenant app",
    )


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def report(echo: Callable[[str], None]) -> int:
    """Run every check, print each; the exit status (1 when anything failed)."""
    settings, checks = check_settings()
    if settings is not None:
        checks.extend(run_checks(settings))
    for check in checks:
        echo(format_check(check))
    failed = [c for c in checks if c.failed]
    if failed:
        echo(f"{len(failed)} problem(s) found")
        return 1
    echo("everything LaunchOps needs is in order")
    return 0
