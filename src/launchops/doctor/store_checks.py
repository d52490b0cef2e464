"""Doctor's checks of what the bot stands on: the configuration, the database and its
migration level, the API token and which chat platforms are on."""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path

from launchops.doctor.check import Check, first_line
from launchops.settings import Settings

MIN_API_TOKEN_LENGTH = 32
MIN_API_TOKEN_DISTINCT = 12
NEW_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105

# --- configuration and store -------------------------------------------------------------


def check_config(settings: Settings) -> Check:
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


def check_database(settings: Settings) -> Iterator[Check]:
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
        yield Check("database", "fail", f"{shown}: {first_line(error)}", setting=setting)
        return
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        yield Check(
            "database",
            "fail",
            f"cannot connect to {shown}: {first_line(error)}",
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


def check_api_token(settings: Settings) -> Check:
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


def check_platforms(settings: Settings) -> Iterator[Check]:
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
