"""Exactly once with real processes on one PostgreSQL (DESIGN.md §2, §5; issue 10 "Done when").

Two `launchops digest send --now` processes started at the same moment, and two `launchops
serve` replicas whose scheduled fire is due together: each team channel gets one top-level
digest in the loopback Slack and one claim row in the store, whoever won. (Since the
scheduler runs on the leader only, the serve replicas' case mostly checks that the leader
sends and the other adds nothing; the claim race itself is the two `digest send` processes.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from launchops.config import load_config
from launchops.services.config_sync import sync_config
from launchops.store import make_engine, upgrade_schema
from launchops.store.digest_models import DigestClaim
from launchops.store.models import ConfigRevision
from tests.conftest import CONFIG_DIR, create_postgres_database, drop_postgres_database
from tests.e2e.harness import SLACK_SECRET
from tests.e2e.process import ServeProcess
from tests.fakes.slack_api import FakeSlackAPI

pytestmark = pytest.mark.e2e

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def pg_url() -> Iterator[str]:
    url, name = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(name)


def _env(db_url: str, slack: FakeSlackAPI, config: Path = CONFIG_DIR) -> dict[str, str]:
    env = {
        **os.environ,
        "LAUNCHOPS_DATABASE_URL": db_url,
        "LAUNCHOPS_CONFIG_DIR": str(config),
        "LAUNCHOPS_CHAT_PLATFORMS": "slack",
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_API_URL": slack.url,
        "LAUNCHOPS_API_TOKEN": "t",
    }
    env.pop("MicrosoftAppId", None)
    return env


def _claims(db_url: str) -> list[tuple[str, str, int]]:
    engine = sa.create_engine(db_url)
    table = DigestClaim.__table__  # type: ignore[attr-defined]
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(table.c.channel, table.c.iso_week, table.c.round))
            return sorted((str(c), str(w), int(r)) for c, w, r in rows)
    finally:
        engine.dispose()


def _top_level(slack: FakeSlackAPI) -> list[str]:
    """Top-level posts to team channels (a serving bot may DM people too: roadmap nudges)."""
    return [
        str(c.params["channel"])
        for c in slack.calls("chat.postMessage")
        if "thread_ts" not in c.params and str(c.params["channel"]).startswith("C")
    ]


def _assert_once_per_channel(db_url: str, slack: FakeSlackAPI) -> None:
    claims = _claims(db_url)
    channels = [channel for channel, _, _ in claims]
    assert len(channels) == len(set(channels)) and {r for _, _, r in claims} == {0}
    assert "slack:C0MLTEAM" in channels and "slack:C0PLATFORM" in channels
    tops = _top_level(slack)
    posted = [c.split(":", 1)[1] for c in channels if not c.startswith("sponsor:")]
    assert sorted(tops) == sorted(posted)  # a sponsor's weekly line is a DM, claimed too


def test_two_digest_send_processes_at_once_send_one_digest_per_channel(
    pg_url: str, slack: FakeSlackAPI, tmp_path: Path
) -> None:
    launchops = str(Path(sys.executable).parent / "launchops")
    env = _env(pg_url, slack)
    # A store in use (migrated, config loaded): the processes race the digest claims. (Two
    # processes racing the very first config sync of an empty store is another matter.)
    upgrade_schema(pg_url)
    engine = make_engine(pg_url)
    try:
        sync_config(engine, load_config(CONFIG_DIR), source="test", actor="test")
    finally:
        engine.dispose()
    processes = [
        subprocess.Popen(
            [launchops, "digest", "send", "--now"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        outs.append(out)
    _assert_once_per_channel(pg_url, slack)
    lines = [line for out in outs for line in out.splitlines() if "→" in line]
    assert len(lines) == len(_claims(pg_url))  # each claim was reported by its one winner


def _due_now_config(tmp_path: Path) -> tuple[Path, datetime]:
    """The example config with every team's digest due at the current minute, in UTC."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    target = tmp_path / "digest-config"
    target.mkdir()
    (target / "catalog.yaml").write_text((CONFIG_DIR / "catalog.yaml").read_text())
    policy = (CONFIG_DIR / "policy.yaml").read_text()
    old = 'digest: {when: "mon 09:00", timezone: Asia/Seoul}'
    assert old in policy
    when = f"{_DAYS[now.weekday()]} {now:%H:%M}"
    (target / "policy.yaml").write_text(
        policy.replace(old, f'digest: {{when: "{when}", timezone: UTC}}')
    )
    return target, now


def test_two_serve_replicas_whose_fire_is_due_together_send_one_digest_per_channel(
    pg_url: str, slack: FakeSlackAPI, tmp_path: Path
) -> None:
    config, due = _due_now_config(tmp_path)
    # Installed an hour ago, so this minute's fire counts (a new install skips the week).
    upgrade_schema(pg_url)
    engine = make_engine(pg_url)
    try:
        sync_config(engine, load_config(config), source="test", actor="test")
        revisions = ConfigRevision.__table__  # type: ignore[attr-defined]
        with engine.begin() as conn:
            conn.execute(revisions.update().values(loaded_at=due - timedelta(hours=1)))
    finally:
        engine.dispose()

    env = _env(pg_url, slack, config)
    replicas = [ServeProcess(env, tmp_path, name) for name in ("a", "b")]
    errors: list[BaseException] = []

    def start(replica: ServeProcess) -> None:
        try:
            replica.start()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(r,)) for r in replicas]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        assert not errors, errors
        # Both check within seconds of starting (the catch-up fire); wait for the deliveries.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            claims = _claims(pg_url)
            posts = [c for c in claims if not c[0].startswith("sponsor:")]
            if claims and len(_top_level(slack)) >= len(posts):
                break
            time.sleep(0.5)
        time.sleep(3)  # a late second fire or double delivery would show by now
        _assert_once_per_channel(pg_url, slack)
        logs = replicas[0].log() + replicas[1].log()
        assert "Traceback" not in logs, logs[-3000:]
    finally:
        for replica in replicas:
            replica.stop()
