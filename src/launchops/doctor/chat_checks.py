"""Doctor's checks of the chat platforms, for real: Slack's `auth.test` (and the scopes its
`x-oauth-scopes` header grants) and a Teams client-credentials token request."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import yaml

from launchops.doctor.check import TIMEOUT, Check, first_line
from launchops.settings import Settings

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
        "files:write",
        "im:history",
        "im:write",
    }
)
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
TEAMS_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"  # noqa: S105
APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")

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


def check_slack(settings: Settings) -> Iterator[Check]:
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
            f"cannot reach {url}: {first_line(error)}",
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


def check_teams(settings: Settings) -> Iterator[Check]:
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
            f"cannot get a token from {url}: {first_line(error)}",
            setting="LAUNCHOPS_TEAMS_TOKEN_URL",
            fix="check the network/proxy; unset LAUNCHOPS_TEAMS_TOKEN_URL for Microsoft's endpoint",
        )
    if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        return Check("teams token", "ok", f"{app_type} app {settings.microsoft_app_id} got a token")
    code = str(body.get("error", "")) if isinstance(body, dict) else ""
    description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
    reason = first_line(description) if description else code or f"HTTP {response.status_code}"
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
