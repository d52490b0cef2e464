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

from collections.abc import Callable, Iterator

from pydantic import ValidationError

from launchops.doctor.chat_checks import REQUIRED_SLACK_SCOPES, check_slack, check_teams
from launchops.doctor.check import Check, format_check
from launchops.doctor.store_checks import (
    check_api_token,
    check_config,
    check_database,
    check_platforms,
)
from launchops.settings import Settings

__all__ = [
    "REQUIRED_SLACK_SCOPES",
    "Check",
    "check_settings",
    "format_check",
    "report",
    "run_checks",
]


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
    yield check_config(settings)
    yield from check_database(settings)
    yield check_api_token(settings)
    yield from check_platforms(settings)
    yield from check_slack(settings)
    yield from check_teams(settings)


# --- configuration and store -------------------------------------------------------------
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
