"""Wiring: settings → engine → services → adapters → dispatcher → web.

This is the only module that knows every part. Everything else receives what it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import structlog
from sqlalchemy.engine import Engine

from launchops.adapters.console.sender import ConsoleSender
from launchops.chat.commands import Asker, ChatCore
from launchops.chat.ledger_chat import LedgerChat
from launchops.chat.roadmap_chat import RoadmapChat
from launchops.config import ConfigError, load_config
from launchops.delivery.dispatcher import Dispatcher
from launchops.delivery.sender import Sender
from launchops.leader import Leadership
from launchops.messages.reply import Reply
from launchops.scheduler import ConfigReloader, build_scheduler
from launchops.services.component_index import ComponentIndex
from launchops.services.config_sync import SyncResult, current_policy, sync_config
from launchops.services.digest import DigestService
from launchops.services.directory import DirectoryCache
from launchops.services.failures import FailureService
from launchops.services.gates import GateService
from launchops.services.incidents import IncidentService
from launchops.services.ledger import LedgerService
from launchops.services.messaging import MessagingService
from launchops.services.monthly_report import MonthlyReporter
from launchops.services.ownership import OwnershipService
from launchops.services.people import PeopleService
from launchops.services.portfolio import Portfolio
from launchops.services.roadmap import RoadmapService
from launchops.services.roadmap_nudges import RoadmapNudger
from launchops.settings import Settings
from launchops.store import make_engine, upgrade_schema

if TYPE_CHECKING:
    from launchops.adapters.slack.app import SlackAdapter
    from launchops.adapters.teams.app import TeamsAdapter

log = structlog.get_logger(__name__)

CLAIM_TTL_SECONDS = 30.0


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    people: PeopleService
    ownership: OwnershipService
    chat: ChatCore
    messaging: MessagingService
    incidents: IncidentService
    dispatcher: Dispatcher
    senders: dict[str, Sender] = field(default_factory=dict)
    slack: SlackAdapter | None = None
    teams: TeamsAdapter | None = None
    config_reloader: ConfigReloader | None = None
    gates: GateService | None = None
    roadmap: RoadmapService | None = None
    nudges: RoadmapNudger | None = None
    portfolio: Portfolio | None = None
    monthly_reports: MonthlyReporter | None = None
    digests: DigestService | None = None
    directory: DirectoryCache | None = None

    def close(self) -> None:
        self.dispatcher.stop()
        self.engine.dispose()


def build_context(
    settings: Settings, *, with_chat_adapters: bool = True, console_stream: TextIO | None = None
) -> AppContext:
    engine = make_engine(settings.database_url)
    directory = DirectoryCache(engine)  # one in-memory organisation, shared by every reader
    people = PeopleService(engine, directory)
    ownership = OwnershipService(engine, ComponentIndex(directory))
    messaging = MessagingService(engine)
    platforms = settings.paging_platforms() if with_chat_adapters else ("console",)
    incidents = IncidentService(
        engine, platforms=platforms, index=ownership.index, default_locale=settings.locale
    )
    gates = GateService(
        engine, platforms=platforms, directory=directory, default_locale=settings.locale
    )
    locale = settings.locale
    roadmap = RoadmapService(
        engine, gates=gates, platforms=platforms, directory=directory, default_locale=locale
    )
    portfolio = Portfolio(engine, directory)
    digests = DigestService(engine, platforms=platforms, locale=locale)
    chat = ChatCore(
        people=people,
        ownership=ownership,
        incidents=incidents,
        gates=gates,
        # `projects`, `failure`, `digest` and the roadmap nudge's buttons
        roadmap=RoadmapChat(
            roadmap=roadmap,
            portfolio=portfolio,
            failures=FailureService(engine, ownership.index),
            digests=digests,
        ),
        ledger=LedgerChat(LedgerService(engine, ownership.index)),  # `deploy`
        default_locale=locale,
    )
    senders: dict[str, Sender] = {}
    if "console" in platforms:
        senders["console"] = ConsoleSender(console_stream)
    slack = teams = None
    if with_chat_adapters:
        if settings.teams_enabled:
            # Only then: a Slack-only install must not answer, or call, anything Teams.
            from launchops.adapters.teams.app import TeamsAdapter
            from launchops.adapters.teams.digest_actions import attach as attach_digest_actions

            teams = TeamsAdapter(settings, chat=chat, messaging=messaging, ownership=ownership)
            senders["teams"] = teams.sender
            attach_digest_actions(chat, digests.followup)  # the digest's Teams buttons
        if settings.slack_enabled:
            from launchops.adapters.slack.after_ack import AfterAck
            from launchops.adapters.slack.app import SlackAdapter
            from launchops.adapters.slack.digest_actions import register_digest_actions

            slack = SlackAdapter(settings, chat=chat, messaging=messaging, ownership=ownership)
            senders["slack"] = slack.sender
            register_digest_actions(
                slack.app, slack.client, AfterAck(slack.sender), digests.followup
            )
    # A crashed replica's claims come back after CLAIM_TTL: above every sender's HTTP timeout
    # (Slack 10 s, Teams 15 s), short enough that a page caught in a crash is not late.
    dispatcher = Dispatcher(
        engine, senders, claim_ttl=CLAIM_TTL_SECONDS, on_dead=incidents.page_failed
    )
    messaging.set_wakeup(dispatcher.wake)
    incidents.set_wakeup(dispatcher.wake)
    gates.set_wakeup(dispatcher.wake)
    roadmap.set_wakeup(dispatcher.wake)
    digests.set_wakeup(dispatcher.wake)
    incidents.set_major_incident_hook(gates.evidence_changed)
    wake = dispatcher.wake
    return AppContext(
        settings=settings,
        engine=engine,
        people=people,
        ownership=ownership,
        chat=chat,
        messaging=messaging,
        incidents=incidents,
        dispatcher=dispatcher,
        senders=senders,
        slack=slack,
        teams=teams,
        config_reloader=ConfigReloader(engine, Path(settings.config_dir)),
        gates=gates,
        roadmap=roadmap,
        nudges=RoadmapNudger(
            engine, platforms=platforms, directory=directory, default_locale=locale, on_enqueue=wake
        ),
        portfolio=portfolio,
        monthly_reports=MonthlyReporter(
            engine, platforms=platforms, directory=directory, default_locale=locale, on_enqueue=wake
        ),
        digests=digests,
        directory=directory,
    )


def warm_up(ctx: AppContext) -> None:
    """Answer a few questions in-process before serving: the directory, the component index,
    the read statements and the renderers are built now instead of on some asker's first
    request. A replica that is not the leader runs no sweeps to do this for it, and cold its
    first gate request took ~210 ms against < 50 ms warm (bench/load.py). Questions write
    nothing, so this changes no state; a failure here is logged, never fatal."""
    if ctx.directory is None:
        return
    renderers: list[Callable[[Reply], object]] = []
    if ctx.slack is not None:
        from launchops.adapters.slack.render import render as slack_render

        renderers.append(slack_render)
    if ctx.teams is not None:
        from launchops.adapters.teams.render import render as teams_render

        renderers.append(teams_render)
    try:
        org = ctx.directory.get()
        questions = ["help", "projects"]
        questions += [f"who owns {component}" for component in list(org.components)[:1]]
        questions += [f"gate status {project}" for project in list(org.projects)[:1]]
        asker = Asker(platform="console", user_ids=())
        for question in questions:
            reply = ctx.chat.answer(question, asker).reply
            for render in renderers:
                render(reply)
    except Exception:  # warming is an optimisation: a replica must start regardless
        log.warning("serve.warm_up_failed", exc_info=True)


def start_console_jobs(ctx: AppContext) -> Leadership:
    """The console's scheduled jobs, elected like `serve`'s (leader.py), as a candidate that
    gives way to serve replicas: on SQLite it is the one process and runs them; on PostgreSQL
    it runs them only while no `launchops serve` is connected, since its pages go to the
    terminal alone. `stop()` on the result ends the jobs and frees the lock."""
    scheduler = build_scheduler(
        ctx.config_reloader, ctx.incidents, gates=ctx.gates, digests=ctx.digests
    )
    leadership = Leadership(ctx.engine, interval=ctx.settings.leader_check_seconds, defer=True)
    leadership.start(scheduler)
    return leadership


def prepare_store(settings: Settings, *, actor: str) -> SyncResult | None:
    """Migrate, then load config/. A broken config keeps the last good one, if there is one."""
    upgrade_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        config = load_config(Path(settings.config_dir))
    except ConfigError as error:
        if current_policy(engine) is None:
            engine.dispose()
            raise
        log.error("config.rejected_keeping_last_good", problems=[str(p) for p in error.problems])
        engine.dispose()
        return None
    try:
        return sync_config(engine, config, source=str(settings.config_dir), actor=actor)
    finally:
        engine.dispose()
