"""Three `launchops serve` replicas on one PostgreSQL behave as one bot (DESIGN.md §2, issue 12).

One set of real processes goes through the whole story, since each start costs seconds:
exactly one replica leads (its `/readyz` says so); a P1 left unacknowledged is escalated once;
the leader is SIGKILLed right before another escalation falls due, a follower takes over within
10 s and sends it, once; the new leader is killed too, so each of the three has run the weekly
digest job (the first on schedule, the others on taking over), and every team channel still
has one digest. The loopback fake Slack Web API counts what the replicas sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from launchops.config import load_config
from launchops.main import CLAIM_TTL_SECONDS
from launchops.services.config_sync import sync_config
from launchops.store import make_engine, upgrade_schema
from launchops.store.digest_models import DigestClaim
from launchops.store.models import ConfigRevision
from tests.conftest import create_postgres_database, drop_postgres_database, fast_config
from tests.e2e.process import ServeProcess
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall
from tests.fakes.slack_requests import sign, slash_command_body

pytestmark = pytest.mark.e2e

SECRET = "leader-secret"
ACK_SECONDS = 3  # the P1 acknowledge deadline of the replicas' policy
FAILOVER_BUDGET = 10.0  # issue 12: another replica leads within 10 s of the leader's death
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def pg_url() -> Iterator[str]:
    url, name = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(name)


def _config(tmp_path: Path, url: str) -> Path:
    """Acknowledge deadlines in seconds, and every team's digest due this minute (UTC), in a
    store installed an hour ago (so this week's digest counts: a new install skips it)."""
    config = fast_config(tmp_path, ack_seconds=ACK_SECONDS)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    policy = (config / "policy.yaml").read_text()
    old = 'digest: {when: "mon 09:00", timezone: Asia/Seoul}'
    assert old in policy
    when = f"{_DAYS[now.weekday()]} {now:%H:%M}"
    (config / "policy.yaml").write_text(
        policy.replace(old, f'digest: {{when: "{when}", timezone: UTC}}')
    )
    upgrade_schema(url)
    engine = make_engine(url)
    try:
        sync_config(engine, load_config(config), source=str(config), actor="test")
        revisions = ConfigRevision.__table__  # type: ignore[attr-defined]
        with engine.begin() as conn:
            conn.execute(revisions.update().values(loaded_at=now - timedelta(hours=1)))
    finally:
        engine.dispose()
    return config


def _env(url: str, slack: FakeSlackAPI, config: Path) -> dict[str, str]:
    return {
        "LAUNCHOPS_DATABASE_URL": url,
        "LAUNCHOPS_CONFIG_DIR": str(config),
        "LAUNCHOPS_CHAT_PLATFORMS": "slack",
        "SLACK_BOT_TOKEN": "xoxb-leader",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "LAUNCHOPS_API_TOKEN": "t",
    }


def _start_all(replicas: list[ServeProcess]) -> None:
    """Start the replicas at once (each start is mostly imports: seconds)."""
    errors: list[BaseException] = []

    def start(replica: ServeProcess) -> None:
        try:
            replica.start()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def _ready(replica: ServeProcess) -> dict[str, object]:
    response = httpx.get(f"{replica.url}/readyz", timeout=5)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _leaders(replicas: list[ServeProcess]) -> list[ServeProcess]:
    return [r for r in replicas if _ready(r)["leader"]["is_leader"]]  # type: ignore[index]


def _wait_for_one_leader(replicas: list[ServeProcess], timeout: float) -> ServeProcess:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leaders = _leaders(replicas)
        if leaders:
            assert len(leaders) == 1, [r.url for r in leaders]
            return leaders[0]
        time.sleep(0.1)
    raise AssertionError("no replica took over:\n" + "\n".join(r.log()[-2000:] for r in replicas))


def _declare(bot: ServeProcess, slack: FakeSlackAPI, title: str, key: str) -> None:
    body = slash_command_body(
        "/incident", f"p1 retriever: {title}", "U0ALICE", "C0GENERAL", slack.response_url(key)
    )
    response = httpx.post(
        f"{bot.url}/slack/events",
        content=body,
        headers=sign(SECRET, body, content_type="application/x-www-form-urlencoded"),
        timeout=10,
    )
    assert response.status_code == 200, response.text


def _dms(slack: FakeSlackAPI, user: str) -> int:
    return sum(c.params.get("users") == user for c in slack.calls("conversations.open"))


def _wait_dms(slack: FakeSlackAPI, user: str, count: int, timeout: float) -> None:
    slack.wait_for(
        "conversations.open",
        count=count,
        timeout=timeout,
        predicate=lambda c: c.params.get("users") == user,
    )


def _escalations(replica: ServeProcess) -> list[object]:
    """The incidents this replica's escalation sweep escalated (its JSON log lines)."""
    found = []
    for line in replica.log().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == "incident.escalated":
            found.append(entry.get("incident"))
    return found


def _events(replicas: list[ServeProcess]) -> str:
    """The leader and escalation log lines of every replica, for a failure's message."""
    return "\n".join(
        line
        for replica in replicas
        for line in replica.log().splitlines()
        if "leader." in line or "incident.escalat" in line
    )


def _escalation_posts(slack: FakeSlackAPI) -> list[RecordedCall]:
    return [
        c
        for c in slack.calls("chat.postMessage")
        if "still unacknowledged after" in str(c.params.get("text", ""))
    ]


def _wait_escalations(slack: FakeSlackAPI, count: int, timeout: float) -> None:
    slack.wait_for(
        "chat.postMessage",
        count=count,
        timeout=timeout,
        predicate=lambda c: "still unacknowledged after" in str(c.params.get("text", "")),
    )


def _digest_claims(url: str) -> list[tuple[str, str, int]]:
    engine = sa.create_engine(url)
    table = DigestClaim.__table__  # type: ignore[attr-defined]
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(table.c.channel, table.c.iso_week, table.c.round))
            # Team channels only: a sponsor's weekly line (`sponsor:<id>`) is a DM.
            found = [(str(c), str(w), int(r)) for c, w, r in rows]
            return sorted(row for row in found if not row[0].startswith("sponsor:"))
    finally:
        engine.dispose()


def _digest_posts(slack: FakeSlackAPI, week: str) -> list[str]:
    """Channels of the top-level Slack posts of this week's digest (replies are its thread;
    a sponsor's weekly line is a DM, `D…`)."""
    return sorted(
        str(c.params["channel"])
        for c in slack.calls("chat.postMessage")
        if "thread_ts" not in c.params
        and week in str(c.params.get("text", ""))
        and not str(c.params["channel"]).startswith("D")
    )


def _kill_leader_and_time_failover(
    leader: ServeProcess, survivors: list[ServeProcess]
) -> tuple[ServeProcess, float]:
    killed_at = time.monotonic()
    leader.kill()
    successor = _wait_for_one_leader(survivors, timeout=FAILOVER_BUDGET + 5)
    elapsed = time.monotonic() - killed_at
    print(f"\nfail-over: {elapsed:.2f} s from SIGKILL to a new leader on /readyz")
    assert elapsed <= FAILOVER_BUDGET, elapsed
    return successor, elapsed


def test_three_replicas_one_leader_failover_escalations_and_digest_once(
    tmp_path: Path, pg_url: str, slack: FakeSlackAPI
) -> None:
    env = _env(pg_url, slack, _config(tmp_path, pg_url))
    replicas = [ServeProcess(env, tmp_path, name) for name in ("a", "b", "c")]
    try:
        _start_all(replicas)
        # Exactly one leader, from the start; the others follow and say since when.
        first = _wait_for_one_leader(replicas, timeout=5)
        followers = [r for r in replicas if r is not first]
        for follower in followers:
            leader = _ready(follower)["leader"]
            assert leader["is_leader"] is False and leader["backend"] == "postgresql"  # type: ignore[index]
            assert leader["last_check"] is not None  # type: ignore[index]
        assert "launchops_leader 1.0" in httpx.get(f"{first.url}/metrics").text
        assert "launchops_leader 0.0" in httpx.get(f"{followers[0].url}/metrics").text

        # (a) A P1 nobody acknowledges: paged (Chris), then escalated (Carol) once.
        _declare(followers[0], slack, "empty answers", "k1")
        _wait_dms(slack, "U0CHRIS", 1, timeout=20)
        _wait_escalations(slack, 1, timeout=ACK_SECONDS + 20)

        # The weekly digest: the first leader's check soon after start sends it.
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            claims = _digest_claims(pg_url)
            if claims and len(_digest_posts(slack, claims[0][1])) >= len(claims):
                break
            time.sleep(0.5)
        assert "digest.sent" in first.log()

        # (b) Another P1, whose escalation falls due 3 s from now; the leader dies at once,
        # so the escalation is the next leader's to send.
        _declare(followers[1], slack, "timeouts on search", "k2")
        second, failover_1 = _kill_leader_and_time_failover(first, followers)
        _wait_escalations(slack, 2, timeout=ACK_SECONDS + 20)
        deadline = time.monotonic() + 5  # the log line and the post race by milliseconds
        while not _escalations(second) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _escalations(first) == [1] and _escalations(second) == [2], _events(replicas)
        # The page itself went out from any replica (a dead one's claim lapses, CLAIM_TTL).
        _wait_dms(slack, "U0CHRIS", 2, timeout=CLAIM_TTL_SECONDS + 15)

        # (c) Kill the second leader too: the last replica takes over and, like the second,
        # runs the digest check on taking over (its first run was missed while it followed).
        last = next(r for r in followers if r is not second)
        _, failover_2 = _kill_leader_and_time_failover(second, [last])
        time.sleep(4)  # more sweeps and dispatches on the survivor: a duplicate would show now

        log = "\n".join(r.log() for r in replicas)
        assert "Traceback" not in log, log[-4000:]
        for taker in (second, last):
            elected = [ln for ln in taker.log().splitlines() if '"leader.elected"' in ln]
            assert elected and "weekly-digest" in elected[-1], taker.log()[-3000:]
        assert _escalations(last) == []
        assert _dms(slack, "U0CHRIS") == 2, log[-4000:]  # the pages
        # Each escalation once, none lost, to Carol (the retriever's accountable).
        assert [c.params["channel"] for c in _escalation_posts(slack)] == ["DU0CAROL"] * 2
        assert _dms(slack, "U0CAROL") == 2, log[-4000:]
        claims = _digest_claims(pg_url)
        channels = [channel for channel, _, _ in claims]
        assert {"slack:C0MLTEAM", "slack:C0PLATFORM"} <= set(channels)
        assert len(channels) == len(set(channels)) and {r for _, _, r in claims} == {0}
        week = claims[0][1]
        assert _digest_posts(slack, week) == sorted(c.split(":", 1)[1] for c in channels)
        print(f"fail-overs: {failover_1:.2f} s, {failover_2:.2f} s")
    finally:
        for replica in replicas:
            replica.kill()
