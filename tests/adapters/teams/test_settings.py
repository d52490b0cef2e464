"""When Teams is on, and which tenants it accepts (DESIGN.md §3)."""

from __future__ import annotations

from typing import Any

import pytest

from launchops.settings import Settings
from tests.e2e.harness import make_settings


def _settings(**env: Any) -> Settings:
    return make_settings("sqlite:///never-opened.db", **env)


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),
        ({"MicrosoftAppId": ""}, False),
        ({"LAUNCHOPS_TEAMS_ANONYMOUS": "false"}, False),
        ({"LAUNCHOPS_TEAMS_ANONYMOUS": "true"}, True),
        ({"MicrosoftAppId": "app-1"}, True),
    ],
)
def test_teams_is_off_without_an_app_id_unless_anonymous_mode_is_asked_for(
    env: dict[str, str], enabled: bool
) -> None:
    settings = _settings(**env)
    assert settings.teams_enabled is enabled
    assert ("teams" in settings.paging_platforms()) is enabled


def test_a_single_tenant_app_accepts_only_its_own_tenant() -> None:
    settings = _settings(
        MicrosoftAppId="app-1",
        MicrosoftAppType="SingleTenant",
        MicrosoftAppTenantId=" Tenant-A ",
        LAUNCHOPS_TEAMS_ALLOWED_TENANTS="tenant-b",
    )
    assert settings.teams_tenants == frozenset({"tenant-a"})


def test_a_multi_tenant_app_accepts_its_allow_list_or_any_tenant() -> None:
    listed = _settings(MicrosoftAppId="app-1", LAUNCHOPS_TEAMS_ALLOWED_TENANTS=" A, b ,,")
    assert listed.teams_tenants == frozenset({"a", "b"})
    assert _settings(MicrosoftAppId="app-1").teams_tenants is None
