"""In-process jobs (APScheduler 3.x): sweeps, digests, reports, config reloads.

With several replicas they run on the leader only (leader.py); each job is idempotent anyway,
claiming its work in the store, so a moment of two leaders is harmless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import Gauge
from sqlalchemy.engine import Engine

from launchops.config import ConfigError, load_config
from launchops.config.loader import CATALOG_FILE, POLICY_FILE
from launchops.services.config_sync import sync_config
from launchops.services.digest import DigestService
from launchops.services.gates import GateService
from launchops.services.incidents import IncidentService
from launchops.services.messaging import MessagingService
from launchops.services.monthly_report import MonthlyReporter
from launchops.services.roadmap_nudges import RoadmapNudger

log = structlog.get_logger(__name__)
CONFIG_POLL_SECONDS = 30
# Escalations must leave within 10 s of their deadline (DESIGN.md §5).
ESCALATION_SWEEP_SECONDS = 1.0
# Gate reminders too (DESIGN.md §5 "On time"); expiry rides on the same sweep.
GATE_SWEEP_SECONDS = 1.0
# Roadmap nudges too; each is claimed once per clock version (services/roadmap_nudges.py).
ROADMAP_SWEEP_SECONDS = 1.0
# The monthly report is due from 09:00 on the first working day: a check a minute is plenty.
MONTHLY_REPORT_CHECK_SECONDS = 60
# Weekly digests: each run sends what is due this week and unclaimed (services/digest.py), so
# a fire is at most this late, and a bot back from downtime catches up within seconds.
DIGEST_CHECK_SECONDS = 60.0
DIGEST_FIRST_CHECK_SECONDS = 5.0

# APScheduler logs every run at INFO: two lines a second for the sweep. Its warnings (a missed
# or skipped run) and errors (a job that raised) still show.
for _name in ("apscheduler", "apscheduler.scheduler", "apscheduler.executors.default"):
    logging.getLogger(_name).setLevel(logging.WARNING)

LAST_SWEEP = Gauge(
    "launchops_escalation_sweep_last_success_timestamp_seconds",
    "Unix time the escalation sweep last finished without an error; a stale value means "
    "escalations are not going out.",
)


def sweep_escalations(incidents: IncidentService) -> int:
    """The sweep job: escalate what is due, then record that the machinery ran. An error
    propagates (APScheduler logs it) and leaves the timestamp where it was, which is what
    the stalled-sweep alert watches."""
    done = incidents.escalate_due()
    LAST_SWEEP.set(time.time())
    return done


class ConfigReloader:
    """Reloads config/ when its files change; a broken edit is logged and the last good
    config stays in force, so a typo pushed at 3 a.m. never takes paging down."""

    def __init__(self, engine: Engine, directory: Path) -> None:
        self._engine = engine
        self._directory = directory
        self._seen = self._stamp()

    def _stamp(self) -> tuple[float, ...]:
        stamps = []
        for name in (CATALOG_FILE, POLICY_FILE):
            try:
                stamps.append((self._directory / name).stat().st_mtime)
            except OSError:
                stamps.append(-1.0)
        return tuple(stamps)

    def check(self, *, force: bool = False) -> bool | None:
        """True = new config loaded, False = rejected, None = nothing changed."""
        stamp = self._stamp()
        if stamp == self._seen and not force:
            return None
        self._seen = stamp
        try:
            config = load_config(self._directory)
        except ConfigError as error:
            log.error(
                "config.rejected_keeping_last_good", problems=[str(p) for p in error.problems]
            )
            return False
        result = sync_config(self._engine, config, source=str(self._directory), actor="reload")
        if result.changed:
            log.info("config.reloaded", revision=result.revision, **result.counts)
        return result.changed


def build_scheduler(
    reloader: ConfigReloader | None,
    incidents: IncidentService | None,
    messaging: MessagingService | None = None,
    gates: GateService | None = None,
    digests: DigestService | None = None,
    *,
    nudges: RoadmapNudger | None = None,
    monthly_reports: MonthlyReporter | None = None,
) -> BackgroundScheduler:
    """The jobs, not started. `serve` runs them on the leader among replicas only (leader.py
    pauses them elsewhere); each is still safe to run on several at once: the sweeps claim
    each step in the store (SKIP LOCKED / compare-and-set), a digest its (channel, week)."""
    # Its threads named like the dispatcher's, so a thread dump (or a test counting one
    # request's writes) tells the bot's own background work from the requests'.
    jobs = ThreadPoolExecutor(10, pool_kwargs={"thread_name_prefix": "launchops-scheduler"})
    scheduler = BackgroundScheduler(timezone="UTC", executors={"default": jobs})
    if reloader is not None:
        _every(
            scheduler,
            reloader.check,
            seconds=CONFIG_POLL_SECONDS,
            id="config-reload",
        )
    if incidents is not None:
        _every(
            scheduler,
            sweep_escalations,
            args=[incidents],
            seconds=ESCALATION_SWEEP_SECONDS,
            id="escalation-sweep",
        )
    if gates is not None:
        # Exactly once across replicas: each reminder and expiry is claimed in the store
        # (services/gate_sweep.py), so every replica may run it.
        _every(
            scheduler,
            gates.sweep,
            seconds=GATE_SWEEP_SECONDS,
            id="gate-sweep",
        )
    if digests is not None:
        # Exactly once across replicas and fires: each (channel, ISO week) is claimed in the
        # store. The first check soon after start is the catch-up after downtime.
        _every(
            scheduler,
            digests.run_due,
            seconds=DIGEST_CHECK_SECONDS,
            next_run_time=datetime.now(UTC) + timedelta(seconds=DIGEST_FIRST_CHECK_SECONDS),
            id="weekly-digest",
        )
    if nudges is not None:
        _every(
            scheduler,
            nudges.sweep,
            seconds=ROADMAP_SWEEP_SECONDS,
            id="roadmap-nudges",
        )
    if monthly_reports is not None:
        _every(
            scheduler,
            monthly_reports.run_due,
            seconds=MONTHLY_REPORT_CHECK_SECONDS,
            id="monthly-report",
        )
    if messaging is not None:
        _every(
            scheduler,
            messaging.forget_receipts,
            hours=1,
            id="receipt-cleanup",
        )
    return scheduler


def _every(scheduler: BackgroundScheduler, job: Callable[..., object], **trigger: Any) -> None:
    """An interval job that never runs beside itself and folds missed runs into one: a
    sweep that fell behind runs once, not once per missed tick."""
    scheduler.add_job(job, "interval", max_instances=1, coalesce=True, **trigger)
