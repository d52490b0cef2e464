"""`launchops console` runs its scheduled jobs under the same leader election as `serve`
(leader.py), as a candidate that gives way to serve replicas.

On PostgreSQL a console beside the running bot would otherwise sweep escalations too, and
its services page the terminal only: a step it claimed would never reach Slack or Teams. So
it leads only while no serve replica is connected. The lock checks are made by hand where
the order matters (the leaders' own threads wait a minute between rounds there).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from launchops.leader import LOCK_KEY, Leadership
from launchops.main import build_context, start_console_jobs
from launchops.store import make_engine, upgrade_schema
from tests.conftest import CONFIG_DIR, create_postgres_database, drop_postgres_database
from tests.e2e.harness import make_settings, running_app

WAIT = 15.0  # generous: a deadline for a state to be reached, never a timing asserted


@pytest.fixture
def pg_url() -> Iterator[str]:
    url, name = create_postgres_database()
    try:
        upgrade_schema(url)
        yield url
    finally:
        drop_postgres_database(name)


def _idle_scheduler() -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(lambda: None, "interval", seconds=3600, id="idle")
    return scheduler


def _lock_holders(engine_url: str) -> int:
    engine = make_engine(engine_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND ((classid::bigint << 32) | objid::bigint) = :key AND database ="
                        " (SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"key": LOCK_KEY},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_the_console_leads_alone_and_gives_way_to_serve(pg_url: str) -> None:
    engine = make_engine(pg_url)
    console = Leadership(engine, interval=60, defer=True)
    serve = Leadership(engine, interval=60)
    try:
        console.start(_idle_scheduler())
        assert console.is_leader  # alone on the database: it runs the jobs
        console_scheduler = console._scheduler
        assert console_scheduler is not None
        assert console_scheduler.state == 1  # STATE_RUNNING: resumed

        serve.start(_idle_scheduler())
        assert not serve.is_leader  # the console holds the lock for now
        assert _lock_holders(pg_url) == 1

        assert not console.check()  # it sees the serve replica and steps down
        assert console_scheduler.state == 2  # STATE_PAUSED
        assert serve.check()  # the lock is free: the replica takes it
        assert not console.check()  # and the console does not try again while it is up
        assert _lock_holders(pg_url) == 1
        assert serve.is_leader and not console.is_leader
    finally:
        serve.stop()
        console.stop()
        engine.dispose()


def test_a_serve_leader_is_not_challenged_by_a_console(pg_url: str) -> None:
    engine = make_engine(pg_url)
    serve = Leadership(engine, interval=60)
    console = Leadership(engine, interval=60, defer=True)
    try:
        serve.start()
        console.start()
        assert serve.is_leader and not console.is_leader
        serve.stop()  # the lock is free, and the replica's session goes too
        # The server ends a closed session's backend a moment after the client hangs up; until
        # then pg_stat_activity still lists it and the console keeps deferring, check by check.
        deadline = time.monotonic() + WAIT
        while not console.check() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert console.is_leader  # so the console, alone now, leads
    finally:
        console.stop()
        serve.stop()
        engine.dispose()


def test_the_real_console_and_a_running_bot_have_one_leader(pg_url: str) -> None:
    """The console's wiring (start_console_jobs, as `launchops console` calls it) started
    first, then the real web app: within the check interval the bot leads and the console
    follows, and the two never lead at once."""
    settings = make_settings(pg_url, LAUNCHOPS_LEADER_CHECK_SECONDS="0.2")
    ctx = build_context(settings, with_chat_adapters=False)
    console = start_console_jobs(ctx)
    try:
        assert console.is_leader
        with running_app(settings) as bot, bot.client() as client:
            deadline = time.monotonic() + WAIT
            while True:
                bot_leads = client.get("/readyz").json()["leader"]["is_leader"]
                assert not (bot_leads and console.is_leader), "two leaders"
                if bot_leads or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert bot_leads
            assert not console.is_leader
        # The bot stopped (its session closed): the console takes the jobs back.
        deadline = time.monotonic() + WAIT
        while not console.is_leader and time.monotonic() < deadline:
            time.sleep(0.05)
        assert console.is_leader
    finally:
        console.stop()
        ctx.close()


def test_on_sqlite_the_console_is_the_one_process_and_runs_the_jobs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade_schema(url)
    ctx = build_context(
        make_settings(url, LAUNCHOPS_CONFIG_DIR=str(CONFIG_DIR)), with_chat_adapters=False
    )
    leadership = start_console_jobs(ctx)
    try:
        assert leadership.is_leader
        assert leadership.status().backend == "sqlite"
        scheduler = leadership._scheduler
        assert scheduler is not None
        assert {job.id for job in scheduler.get_jobs()} >= {"escalation-sweep", "config-reload"}
    finally:
        leadership.stop()
        ctx.close()
    assert not leadership.is_leader
