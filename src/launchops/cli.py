"""The `launchops` command (DESIGN.md §3): serve, console, run, db upgrade, config check/sync."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from launchops.config import ConfigError, load_config
from launchops.config.models import OrgConfig
from launchops.logging_setup import configure
from launchops.settings import Settings

app = typer.Typer(
    help="LaunchOps: ChatOps for AI launches.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
config_app = typer.Typer(
    help="The organisation's catalog.yaml and policy.yaml.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")

HOW_TO_CONNECT = """\
No chat credentials found, so LaunchOps runs as a local console chat.
  Slack: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (HTTP events at /slack/events),
         or SLACK_BOT_TOKEN and SLACK_APP_TOKEN for Socket Mode; app manifest in deploy/.
  Teams: set MicrosoftAppId, MicrosoftAppPassword (and MicrosoftAppTenantId for single-tenant);
         messaging endpoint /api/messages; app manifest in deploy/.
  Then `make run` serves both on LAUNCHOPS_HOST:LAUNCHOPS_PORT.
Try: who owns rag · owns data · help · quit"""


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            name = ".".join(str(p) for p in problem["loc"])
            typer.echo(f"setting {name}: {problem['msg']}", err=True)
        raise typer.Exit(2) from None


def _prepare(settings: Settings, actor: str) -> None:
    from launchops.main import prepare_store

    try:
        result = prepare_store(settings, actor=actor)
    except ConfigError as error:
        typer.echo(
            f"config in {settings.config_dir} is invalid and no earlier config is stored:", err=True
        )
        for problem in error.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None
    if result is None:
        typer.echo("config is invalid; keeping the last good config (see the log)", err=True)


@app.command()
def serve() -> None:
    """Run the web app: Slack events, Teams messages, health and metrics."""
    import uvicorn

    from launchops.main import build_context, warm_up
    from launchops.web import create_app

    configure(json=True)
    settings = _settings()
    _prepare(settings, actor="serve")
    ctx = build_context(settings)
    warm_up(ctx)
    if ctx.slack is not None:
        ctx.slack.start_socket_mode()
    # What is alive now (imports, config, the directory) lives as long as the process: moved
    # out of the collector's sight, a full collection under load walks only what came after.
    # And a young generation of 20,000 objects, not 700: a declaration allocates hundreds (ORM
    # states, bolt's dicts), and the default's frequent collections took about twice the GC
    # time under the ack bench; what dies young still dies in generation 0.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 20)
    # uvicorn's own logging config would bypass the masking formatter, and its access log
    # prints raw paths with their query strings: web.py logs each request instead.
    uvicorn.run(
        create_app(ctx),
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=None,
        access_log=False,
    )


@app.command()
def console(
    as_person: Annotated[
        str | None, typer.Option("--as", help="Speak as this catalog person id, e.g. alice.")
    ] = None,
) -> None:
    """Chat with the bot in this terminal, over the same commands as Slack and Teams."""
    from launchops.adapters.console.app import ConsoleChat
    from launchops.main import build_context, start_console_jobs

    configure(json=False, level=logging.WARNING)
    settings = _settings()
    _prepare(settings, actor="console")
    ctx = build_context(settings, with_chat_adapters=False)
    ctx.dispatcher.start()
    leadership = start_console_jobs(ctx)  # on PostgreSQL: only while no serve replica is up
    try:
        ConsoleChat(ctx.chat, as_person=as_person or "").loop()
        ctx.dispatcher.drain(timeout=5)
    finally:
        leadership.stop()  # a running sweep finishes before the engine is closed
        ctx.close()


@app.command()
def run(
    as_person: Annotated[
        str | None, typer.Option("--as", help="Console only: speak as this person id.")
    ] = None,
) -> None:
    """What `make run` does: serve when chat credentials are set, otherwise the console."""
    settings = _settings()
    if settings.has_chat_credentials:
        serve()
        return
    typer.echo(HOW_TO_CONNECT)
    console(as_person)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (safe to repeat)."""
    from launchops.store import upgrade_schema

    settings = _settings()
    upgrade_schema(settings.database_url)
    typer.echo("database is up to date")


def _config_dir(directory: Path | None) -> Path:
    return directory if directory is not None else _settings().config_dir


@config_app.command("check")
def config_check(
    directory: Annotated[
        Path | None, typer.Argument(help="Defaults to LAUNCHOPS_CONFIG_DIR.")
    ] = None,
) -> None:
    """Validate catalog.yaml and policy.yaml; every problem with file, line and key."""
    path = _config_dir(directory)
    try:
        config = load_config(path)
    except ConfigError as error:
        for problem in error.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{len(error.problems)} problem(s) in {path}", err=True)
        raise typer.Exit(1) from None
    for warning in _stage_warnings(path, config):
        typer.echo(warning, err=True)
    catalog = config.catalog
    typer.echo(
        f"{path}: ok — {len(catalog.people)} people, {len(catalog.teams)} teams, "
        f"{len(catalog.components)} components, {len(catalog.projects)} projects"
    )


def _stage_warnings(directory: Path, config: OrgConfig) -> list[str]:
    """Projects whose stage in the file differs from the stage stored (a gate moved it).

    Best effort: only when the configured store already exists and has stages; `config check`
    must keep working on a laptop with no database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from launchops.config.loader import located
    from launchops.services.catalog_upsert import stage_disagreements
    from launchops.store import make_engine, read_scope

    try:
        url = make_url(Settings().database_url)
    except (ValidationError, ValueError):
        return []
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return []
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with read_scope(engine) as session:
            found = stage_disagreements(session, config)
    except SQLAlchemyError:
        return []  # no schema yet, or one from before stages were stored
    finally:
        engine.dispose()
    return [
        str(
            located(
                directory,
                "catalog.yaml",
                ("projects", index, "stage"),
                f"warning: '{written}' here, but the store says '{stored}' (moved by a gate); "
                "the file only sets a new project's starting stage",
            )
        )
        for index, written, stored in found
    ]


@config_app.command("sync")
def config_sync(
    directory: Annotated[
        Path | None, typer.Argument(help="Defaults to LAUNCHOPS_CONFIG_DIR.")
    ] = None,
) -> None:
    """Validate, then load the config into the store (all or nothing)."""
    from launchops.services.config_sync import sync_config
    from launchops.store import make_engine, upgrade_schema

    settings = _settings()
    path = directory if directory is not None else settings.config_dir
    try:
        config = load_config(path)
    except ConfigError as error:
        for problem in error.problems:
            typer.echo(str(problem), err=True)
        typer.echo("nothing was changed", err=True)
        raise typer.Exit(1) from None
    upgrade_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        result = sync_config(engine, config, source=str(path), actor="cli")
    finally:
        engine.dispose()
    state = "loaded" if result.changed else "unchanged"
    typer.echo(
        f"config {state} (revision {result.revision}): "
        + ", ".join(f"{v} {k}" for k, v in result.counts.items())
    )


@app.command()
def doctor() -> None:
    """Check the settings, config, store, API token, Slack and Teams; say how to fix each."""
    from launchops.doctor import report

    raise typer.Exit(report(typer.echo))


# digest preview / send (DESIGN.md §3, §5) ----------------------------------------------------
digest_app = typer.Typer(help="The weekly failure-review digest.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")


@digest_app.command("preview")
def digest_preview(
    team: Annotated[str | None, typer.Option(help="A team id; every team when left out.")] = None,
    locale: Annotated[
        str | None, typer.Option(help="en or ko; LAUNCHOPS_LOCALE by default.")
    ] = None,
) -> None:
    """Print this week's digest (nothing is sent or recorded)."""
    from launchops.services.digest import DigestService
    from launchops.store import make_engine

    settings = _settings()
    configure(json=False, level=logging.WARNING)
    engine = make_engine(settings.database_url)
    try:
        digests = DigestService(
            engine, platforms=settings.paging_platforms(), locale=settings.locale
        )
        for team_id in [team] if team else digests.team_ids():
            typer.echo(digests.preview(team_id, locale).text)
            typer.echo("")
    finally:
        engine.dispose()


@digest_app.command("send")
def digest_send(
    now: Annotated[
        bool, typer.Option("--now", help="Send what has not been sent this week.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Send again, even if sent this week.")
    ] = False,
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for delivery.")] = 120.0,
) -> None:
    """Send digests: those due and unsent (default), this week's unsent (--now), or again
    (--force); then deliver them before exiting."""
    from launchops.main import build_context
    from launchops.services.digest import UnknownTeam

    settings = _settings()
    configure(json=False, level=logging.WARNING)
    _prepare(settings, actor="cli")
    ctx = build_context(settings)
    try:
        digests = ctx.digests
        assert digests is not None
        try:
            if now or force:
                sent = digests.send(team_id=team, force=force, by="cli")
            else:
                sent = [s for s in digests.run_due() if team is None or s.team_id == team]
        except UnknownTeam:
            typer.echo(f"no team {team!r} in the catalog", err=True)
            raise typer.Exit(1) from None
        for item in sent:
            note = " (quiet week)" if item.quiet else ""
            again = f", round {item.round}" if item.round else ""
            typer.echo(f"{item.team_id} → {item.channel}: {item.iso_week}{again}{note}")
        if not sent:
            typer.echo(
                "nothing to send: already sent this week, or no team channel on these platforms"
            )
            return
        if not ctx.dispatcher.drain(timeout=wait):
            typer.echo("some messages are still queued; a running bot will deliver them", err=True)
    finally:
        ctx.close()


@app.command()
def report(
    month: Annotated[str, typer.Option("--month", help="The month reported, YYYY-MM.")],
    project: Annotated[
        str | None,
        typer.Option("--project", help="Only this project (id or name), in any stage."),
    ] = None,
    send: Annotated[
        bool,
        typer.Option("--send", help="Post it to the project's channel and its sponsor again."),
    ] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for delivery.")] = 120.0,
) -> None:
    """The monthly operations report of each project in Production (or --project): printed,
    or sent again with --send (the scheduler sends each month's once by itself)."""
    from launchops.domain.errors import LaunchOpsError
    from launchops.main import build_context
    from launchops.messages.i18n import t
    from launchops.messages.roadmap_views import monthly_report

    settings = _settings()
    configure(json=False, level=logging.WARNING)
    _prepare(settings, actor="cli")
    ctx = build_context(settings, with_chat_adapters=send)
    try:
        reporter = ctx.monthly_reports
        assert reporter is not None
        try:
            if not send:
                reports = reporter.build(month, project)
                for item in reports:
                    typer.echo(monthly_report(item, settings.locale).text + "\n")
                if not reports:
                    typer.echo("no project is in Production; name one with --project")
                return
            sent = reporter.send(month, project, force=True, by="cli")
        except LaunchOpsError as error:
            typer.echo(t(error.key, settings.locale, **error.params), err=True)
            raise typer.Exit(1) from None
        typer.echo(f"sent {sent} report(s) for {month}")
        if sent and not ctx.dispatcher.drain(timeout=wait):
            typer.echo("some messages are still queued; a running bot will deliver them", err=True)
    finally:
        ctx.close()
