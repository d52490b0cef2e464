"""Process settings, read once at start-up and passed down.

The environment names are part of the public contract (DESIGN.md §3): operators already have
them in their deployment files, so fields carry explicit aliases rather than derived names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite:///./var/launchops.db"
BOT_FRAMEWORK_OPENID_METADATA_URL = (
    "https://login.botframework.com/v1/.well-known/openidconfiguration"
)


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """Everything the bot reads from its environment (or a `.env` file)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))

    microsoft_app_id: str = Field("", validation_alias=_env("MicrosoftAppId"))
    microsoft_app_password: SecretStr = Field(
        SecretStr(""), validation_alias=_env("MicrosoftAppPassword")
    )
    microsoft_app_tenant_id: str = Field("", validation_alias=_env("MicrosoftAppTenantId"))
    microsoft_app_type: str = Field("MultiTenant", validation_alias=_env("MicrosoftAppType"))

    database_url: str = Field(DEFAULT_SQLITE_URL, validation_alias=_env("LAUNCHOPS_DATABASE_URL"))
    config_dir: Path = Field(Path("./config"), validation_alias=_env("LAUNCHOPS_CONFIG_DIR"))
    api_token: SecretStr | None = Field(None, validation_alias=_env("LAUNCHOPS_API_TOKEN"))
    host: str = Field("127.0.0.1", validation_alias=_env("LAUNCHOPS_HOST"))
    port: int = Field(3000, validation_alias=_env("LAUNCHOPS_PORT"), ge=0, le=65535)
    locale: Literal["en", "ko"] = Field("en", validation_alias=_env("LAUNCHOPS_LOCALE"))
    timezone: str = Field("UTC", validation_alias=_env("LAUNCHOPS_TIMEZONE"))
    teams_service_url: str = Field(
        "https://smba.trafficmanager.net/teams/",
        validation_alias=_env("LAUNCHOPS_TEAMS_SERVICE_URL"),
    )

    teams_anonymous: bool = Field(False, validation_alias=_env("LAUNCHOPS_TEAMS_ANONYMOUS"))
    teams_allowed_tenants: str = Field("", validation_alias=_env("LAUNCHOPS_TEAMS_ALLOWED_TENANTS"))
    # Where botbuilder fetches the keys that sign Bot Framework tokens. Only tests (a loopback
    # stand-in) and sovereign clouds have a reason to change it.
    teams_openid_metadata_url: str = Field(
        BOT_FRAMEWORK_OPENID_METADATA_URL,
        validation_alias=_env("LAUNCHOPS_TEAMS_OPENID_METADATA_URL"),
    )

    # Where `launchops doctor` asks for a Bot Framework token (client credentials) to prove the
    # Teams app id and password. Empty: Microsoft's endpoint for the app's tenant (SingleTenant)
    # or botframework.com. Tests point it at a loopback stand-in.
    teams_token_url: str = Field("", validation_alias=_env("LAUNCHOPS_TEAMS_TOKEN_URL"))

    chat_platforms: str = Field("", validation_alias=_env("LAUNCHOPS_CHAT_PLATFORMS"))
    # Replicas on PostgreSQL: how often a follower tries the leader lock and the leader checks
    # it holds it. Fail-over takes about this long after the leader dies (leader.py).
    leader_check_seconds: float = Field(
        2.0, validation_alias=_env("LAUNCHOPS_LEADER_CHECK_SECONDS"), gt=0, le=5
    )

    @field_validator("chat_platforms")
    @classmethod
    def _known_platforms(cls, value: str) -> str:
        names = [n.strip().lower() for n in value.split(",") if n.strip()]
        unknown = set(names) - {"slack", "teams", "console"}
        if unknown:
            raise ValueError(f"unknown chat platform(s): {', '.join(sorted(unknown))}")
        return ",".join(names)

    @field_validator("slack_api_url", "teams_service_url")
    @classmethod
    def _with_trailing_slash(cls, value: str) -> str:
        # slack_sdk and the Bot Connector both join paths onto these; a missing slash would
        # silently drop the last path segment.
        return value if value.endswith("/") else value + "/"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        ZoneInfo(value)  # raises on an unknown zone, so a typo fails at start-up
        return value

    @property
    def slack_enabled(self) -> bool:
        """Slack over HTTP needs a bot token and the signing secret; Socket Mode the app token."""
        return self.slack_bot_token is not None and (
            self.slack_signing_secret is not None or self.slack_app_token is not None
        )

    @field_validator("teams_allowed_tenants")
    @classmethod
    def _tenant_list(cls, value: str) -> str:
        return ",".join(t.strip().lower() for t in value.split(",") if t.strip())

    @property
    def teams_enabled(self) -> bool:
        """Teams runs with an app id, or unauthenticated when LAUNCHOPS_TEAMS_ANONYMOUS is on.

        Without either, `/api/messages` is closed: an empty app id used to mean "accept anyone",
        which opened a Slack-only deployment to forged activities.
        """
        return bool(self.microsoft_app_id) or self.teams_anonymous

    @property
    def teams_tenants(self) -> frozenset[str] | None:
        """Tenants whose activities are accepted (lower case), or None for any tenant.

        A single-tenant app accepts only its own tenant; a multi-tenant one the allow-list,
        when there is one.
        """
        if self.microsoft_app_type.lower() == "singletenant" and self.microsoft_app_tenant_id:
            return frozenset({self.microsoft_app_tenant_id.strip().lower()})
        if self.teams_allowed_tenants:
            return frozenset(self.teams_allowed_tenants.split(","))
        return None

    @property
    def has_chat_credentials(self) -> bool:
        return self.slack_enabled or self.teams_enabled

    def paging_platforms(self) -> tuple[str, ...]:
        """Where pages and incident posts go. LAUNCHOPS_CHAT_PLATFORMS overrides the default:
        Slack when its credentials are set, Teams when it is enabled, else the console."""
        if self.chat_platforms:
            return tuple(self.chat_platforms.split(","))
        found = tuple(
            name
            for name, enabled in (("slack", self.slack_enabled), ("teams", self.teams_enabled))
            if enabled
        )
        return found or ("console",)
