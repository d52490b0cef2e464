"""`/readyz` (store, leader, outbox lag) and the leader lock behind it (leader.py).

Readiness answers 200 whenever the store does, leader or not: a follower serves Slack and
Teams like the leader, it only runs no scheduled jobs. The lock tests use two `Leadership`s
in this process: each holds its own session, so they compete like two replicas.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI
from pydantic import ValidationError

from launchops.delivery.outbox import enqueue
from launchops.leader import LOCK_KEY, Leadership
from launchops.main import build_context
from launchops.messages.reply import Reply
from launchops.store import make_engine, session_scope, upgrade_schema
from launchops.web import create_app
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.harness import make_settings, running_app


@pytest.fixture
def pg_url() -> Iterator[str]:
    url, name = create_postgres_database()
    try:
        upgrade_schema(url)
        yield url
    finally:
        drop_postgres_database(name)


def test_the_check_interval_stays_inside_the_failover_budget(sqlite_url: str) -> None:
    assert make_settings(sqlite_url).leader_check_seconds == 2.0
    faster = make_settings(sqlite_url, LAUNCHOPS_LEADER_CHECK_SECONDS="0.5")
    assert faster.leader_check_seconds == 0.5
    with pytest.raises(ValidationError):
        make_settings(sqlite_url, LAUNCHOPS_LEADER_CHECK_SECONDS="30")


def test_sqlite_replica_is_ready_and_always_leader(sqlite_url: str) -> None:
    with running_app(make_settings(sqlite_url)) as app, app.client() as client:
        response = client.get("/readyz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready" and body["store"] == "ok"
        leader = body["leader"]
        assert leader["is_leader"] is True and leader["backend"] == "sqlite"
        assert datetime.fromisoformat(leader["since"]) <= datetime.now(UTC)
        assert body["outbox"] == {"pending": 0, "oldest_pending_age_seconds": 0.0}
        assert "launchops_leader 1.0" in client.get("/metrics").text
        assert client.get("/healthz").json()["status"] == "ok"  # liveness, unchanged


async def _get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app"
    ) as client:
        return await client.get(path)


def test_outbox_lag_counts_pending_rows_and_the_oldest_ones_age(sqlite_url: str) -> None:
    ctx = build_context(make_settings(sqlite_url), with_chat_adapters=False)
    try:
        with session_scope(ctx.engine) as session:
            for key in ("a", "b"):
                enqueue(
                    session,
                    platform="console",
                    kind="post",
                    destination={"channel": "C0MLTEAM"},
                    reply=Reply(text="hello"),
                    dedupe_key=key,
                )
        time.sleep(0.2)
        body = asyncio.run(_get(create_app(ctx, run_dispatcher=False), "/readyz")).json()
        assert body["outbox"]["pending"] == 2
        assert body["outbox"]["oldest_pending_age_seconds"] >= 0.2
        # Without a scheduler this app takes no part in the election.
        assert body["leader"]["is_leader"] is False and body["leader"]["last_check"] is None
    finally:
        ctx.close()


def test_store_down_is_503_with_the_leader_still_reported(tmp_path: Path, sqlite_url: str) -> None:
    with running_app(make_settings(sqlite_url)) as app, app.client() as client:
        app.ctx.engine.dispose()
        database = Path(sqlite_url.removeprefix("sqlite:///"))
        database.unlink()
        database.mkdir()  # SQLite cannot open a directory
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable" and body["store"] == "unreachable"
        assert body["leader"]["is_leader"] is True


def _counting_scheduler(runs: list[float]) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        lambda: runs.append(time.monotonic()),
        "interval",
        seconds=0.2,
        id="count",
        max_instances=1,
        coalesce=True,
    )
    return scheduler


def _lock_holders(url: str) -> list[int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND ((classid::bigint << 32) | objid::bigint) = :key AND database ="
                    " (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"key": LOCK_KEY},
            )
            return [int(pid) for (pid,) in rows]
    finally:
        engine.dispose()


def _terminate(url: str, pid: int) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        engine.dispose()


def test_one_leader_runs_jobs_and_a_broken_lock_connection_pauses_them(pg_url: str) -> None:
    engine = make_engine(pg_url)
    runs_a: list[float] = []
    runs_b: list[float] = []
    a = Leadership(engine, interval=60)  # checked by hand below
    b = Leadership(engine, interval=60)
    try:
        a.start(_counting_scheduler(runs_a))
        b.start(_counting_scheduler(runs_b))
        assert a.is_leader and not b.is_leader
        time.sleep(0.7)
        assert runs_a and not runs_b  # only the leader's jobs run
        assert b.status().last_check is not None and b.status().since is not None
        assert not b.check()  # the lock is taken: b stays a follower

        [holder] = _lock_holders(pg_url)
        _terminate(pg_url, holder)  # a's lock connection breaks (the server kills it)
        assert not a.check()  # a notices at its next check and pauses at once
        paused_at = len(runs_a)
        assert b.check()  # the lock is free: b takes over
        time.sleep(0.7)
        assert len(runs_a) <= paused_at + 1  # at most one run already under way
        assert runs_b
        assert not a.check()  # a tries again on a new connection and follows
        assert b.status().is_leader and not a.status().is_leader
    finally:
        a.stop()
        b.stop()
        engine.dispose()


def test_a_stopped_leader_releases_the_lock_for_the_next(pg_url: str) -> None:
    engine = make_engine(pg_url)
    a = Leadership(engine, interval=0.2)
    b = Leadership(engine, interval=0.2)
    try:
        a.start()
        b.start()
        assert a.is_leader and not b.is_leader
        a.stop()
        deadline = time.monotonic() + 5
        while not b.is_leader and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b.is_leader  # the follower's own thread took over
        since = b.status().since
        assert since is not None and datetime.now(UTC) - since < timedelta(seconds=5)
    finally:
        a.stop()
        b.stop()
        engine.dispose()


def test_readyz_on_postgresql_names_the_leader(pg_url: str) -> None:
    settings = make_settings(pg_url)
    with (
        running_app(settings) as first,
        first.client() as client,
        running_app(settings) as second,
        second.client() as other,
    ):
        leaders = [c.get("/readyz").json()["leader"] for c in (client, other)]
        assert [leader["is_leader"] for leader in leaders] == [True, False]
        assert {leader["backend"] for leader in leaders} == {"postgresql"}
