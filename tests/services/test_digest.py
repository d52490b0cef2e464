"""The weekly failure-review digest on SQLite and PostgreSQL, against the example organisation.

The ML team (Slack C0MLTEAM, Teams 19:ml@thread.tacv2) is Responsible for answer-model and
prompts; the data team for retriever and indexing. policy.yaml schedules digests on Monday
09:00 Asia/Seoul. The clock is held in January 2027 (after the config sync, so the
"not before the first sync" rule lets the week's digest through): Monday 2027-01-04 09:00 KST
is 2027-01-04 00:00 UTC, ISO week 2027-W01.
"""

from __future__ import annotations

import base64
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.config import load_config
from launchops.delivery import outbox
from launchops.services.component_index import ComponentIndex
from launchops.services.config_sync import sync_config
from launchops.services.digest import DigestService, iso_week, scheduled_at
from launchops.services.digest_data import cluster
from launchops.services.directory import DirectoryCache
from launchops.services.failures import FailureService, NewCase
from launchops.store import make_engine
from launchops.store.digest_models import DigestClaim
from launchops.store.models import OutboxMessage
from tests.conftest import CONFIG_DIR

MONDAY_DUE = datetime(2027, 1, 4, 0, 0, tzinfo=UTC)  # Mon 09:00 Asia/Seoul
NOW = MONDAY_DUE + timedelta(hours=1)
ML = ["slack:C0MLTEAM", "teams:19:ml@thread.tacv2"]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def service(engine: Engine, clock: Clock) -> DigestService:
    return DigestService(engine, platforms=("slack", "teams"), locale="en", clock=clock)


def record(engine: Engine, cases: list[tuple[str, str, str, datetime]]) -> None:
    failures = FailureService(engine, ComponentIndex(DirectoryCache(engine)))
    failures.record(
        [
            NewCase(component=c, kind=k, summary=s, occurred_at=at)  # type: ignore[arg-type]
            for c, k, s, at in cases
        ]
    )


def rows(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def claims(engine: Engine) -> list[tuple[str, str, int]]:
    with Session(engine) as session:
        found = session.exec(select(DigestClaim).order_by(col(DigestClaim.id))).all()
        return [(c.channel, c.iso_week, c.round) for c in found]


def top_level(engine: Engine) -> list[OutboxMessage]:
    return [r for r in rows(engine) if r.depends_on is None]


@pytest.fixture
def week_of_cases(synced: Engine) -> Engine:
    this_week = NOW - timedelta(days=2)
    last_week = NOW - timedelta(days=9)
    timeouts = [
        ("answer-model", "error", f"Timeout after {n}s calling the model for jane{n}@example.com",
         this_week + timedelta(minutes=n))
        for n in range(5)
    ]  # fmt: skip
    refusals = [
        ("prompts", "negative_feedback", "Refused a harmless billing question",
         this_week + timedelta(minutes=10 + n))
        for n in range(3)
    ]  # fmt: skip
    record(
        synced,
        [
            *timeouts,
            *refusals,
            ("answer-model", "low_confidence", "Answered in the wrong language", this_week),
            ("answer-model", "safety", "Quoted a card number 4111 1111 1111 1111", this_week),
            ("answer-model", "error", "Timeout after 9s calling the model", last_week),
            ("answer-model", "error", "Timeout after 8s calling the model", last_week),
            ("retriever", "other", "Stale index page", this_week),
        ],
    )
    return synced


def test_counts_change_and_patterns(week_of_cases: Engine) -> None:
    data = service(week_of_cases, Clock(NOW)).build("ml")
    assert data.cases == {
        ("Answer model", "error"): (5, 2),
        ("Answer model", "low_confidence"): (1, 0),
        ("Answer model", "safety"): (1, 0),
        ("Prompt templates", "negative_feedback"): (3, 0),
    }
    assert (data.total, data.total_before) == (10, 2)
    assert [p.count for p in data.patterns] == [5, 3, 1]
    assert "[email]" in data.patterns[0].example and "example.com" not in data.patterns[0].example
    assert data.patterns[1].example == "Refused a harmless billing question"
    assert data.trend[-2:] == [2, 10] and len(data.trend) == 8
    assert not data.quiet
    # The data team's week holds only its own component's case.
    assert service(week_of_cases, Clock(NOW)).build("data").total == 1


def test_preview_is_one_private_reply_in_either_language(week_of_cases: Engine) -> None:
    digests = service(week_of_cases, Clock(NOW))
    reply = digests.preview("ml", "en")
    assert reply.private
    assert "10 failure cases (+8 on last week)" in reply.text
    assert "5× e.g." in reply.text and "4111" not in reply.text
    korean = digests.preview("ml", "ko")
    assert "실패 사례 10건" in korean.text
    assert "No team found" in digests.preview("nobody", "en").text


def test_cluster_groups_similar_texts_and_keeps_the_top_three() -> None:
    found = cluster(
        [
            ("Timeout after 30s calling the model", 4),
            ("Timeout after 12s calling the model", 3),
            ("Refused a harmless question", 2),
            ("Wrong language", 1),
            ("Stale index", 1),
        ]
    )
    assert [(p.count, p.example) for p in found] == [
        (7, "Timeout after 30s calling the model"),
        (2, "Refused a harmless question"),
        (1, "Stale index"),
    ]


def test_the_digest_is_one_post_per_channel_with_its_thread_and_chart(
    week_of_cases: Engine,
) -> None:
    sent = service(week_of_cases, Clock(NOW)).send(team_id="ml", by="test")
    assert sorted(s.channel for s in sent) == sorted(ML)
    found = rows(week_of_cases)
    assert all(r.priority == outbox.PRIORITY_BULK for r in found)
    tops = top_level(week_of_cases)
    assert [(r.platform, r.destination) for r in tops] == [
        ("slack", {"channel": "C0MLTEAM"}),
        ("teams", {"conversation": "19:ml@thread.tacv2"}),
    ]
    for top in tops:
        thread = [r for r in found if r.depends_on == top.id]
        assert len(thread) >= 5
        assert all(r.destination.get("thread") for r in thread)
    uploads = [r for r in found if r.kind == "upload"]
    assert len(uploads) == 1 and uploads[0].platform == "slack"
    png = base64.b64decode(uploads[0].destination["png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    every_text = " ".join(str(r.payload) for r in found)
    assert "example.com" not in every_text and "4111" not in every_text


def test_a_quiet_week_is_one_line(synced: Engine) -> None:
    sent = service(synced, Clock(NOW)).send(team_id="platform", by="test")
    assert [s.quiet for s in sent] == [True, True]
    found = rows(synced)
    assert len(found) == 2 and all(r.depends_on is None for r in found)
    assert "a quiet week" in found[0].payload["text"]


def test_scheduled_fire_sends_once_and_catches_up_after_downtime(week_of_cases: Engine) -> None:
    clock = Clock(MONDAY_DUE - timedelta(minutes=1))  # Monday 08:59 in Seoul
    digests = service(week_of_cases, clock)
    assert digests.run_due() == []
    # The bot was down through Monday; it comes back on Wednesday.
    clock.now = MONDAY_DUE + timedelta(days=2, hours=3)
    first = digests.run_due()
    assert {s.channel for s in first if s.team_id == "ml"} == set(ML)
    assert {s.iso_week for s in first} == {"2027-W01"}
    assert digests.run_due() == []  # a double fire, or the next minute's run
    before = len(rows(week_of_cases))
    assert service(week_of_cases, clock).run_due() == []  # another replica
    assert len(rows(week_of_cases)) == before
    # Next week's time comes: next week's digest, once.
    clock.now = MONDAY_DUE + timedelta(days=7, minutes=5)
    again = digests.run_due()
    assert {s.iso_week for s in again} == {"2027-W02"}
    assert digests.run_due() == []


def test_a_week_before_the_first_sync_is_never_sent(synced: Engine) -> None:
    # The clock says the digest was due an hour ago, but the organisation is newer than that.
    clock = Clock(datetime.now(UTC))
    assert service(synced, Clock(clock.now - timedelta(days=30))).run_due() == []


def test_now_sends_what_is_unsent_and_force_sends_again(week_of_cases: Engine) -> None:
    digests = service(week_of_cases, Clock(NOW))
    assert len(digests.send(team_id="ml")) == 2
    assert digests.send(team_id="ml") == []  # --now again: already sent this week
    assert digests.run_due() != []  # other teams still due; ML is not sent again
    assert [c for c in claims(week_of_cases) if c[0] in ML] == [
        (ML[0], "2027-W01", 0),
        (ML[1], "2027-W01", 0),
    ]
    forced = digests.send(team_id="ml", force=True)
    assert [s.round for s in forced] == [1, 1]
    tops = top_level(week_of_cases)
    slack_posts = [r for r in tops if r.destination.get("channel") == "C0MLTEAM"]
    assert len(slack_posts) == 2


def test_schedule_in_the_team_time_zone() -> None:
    when, zone = "fri 17:00", "America/New_York"
    week, moment = scheduled_at(when, zone, NOW + timedelta(days=1))
    assert week == "2027-W01"
    assert moment == datetime(2027, 1, 8, 22, 0, tzinfo=UTC)
    assert iso_week(datetime(2027, 1, 3, 23, 0, tzinfo=UTC)) == "2026-W53"
    # Monday 01:00 UTC is still Sunday in New York: that zone's week has not turned yet.
    assert scheduled_at(when, zone, NOW)[0] == "2026-W53"


def test_two_replicas_racing_send_one_digest_per_channel(db_url: str, synced: Engine) -> None:
    """Several replicas (threads with engines of their own) fire at the same moment."""
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def replica() -> None:
        engine = make_engine(db_url)
        try:
            digests = service(engine, Clock(NOW))
            barrier.wait()
            results.append(digests.run_due())
        finally:
            engine.dispose()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    sent = [s for result in results for s in result]
    channels = [s.channel for s in sent]
    assert len(channels) == len(set(channels)) and set(ML) <= set(channels)
    assert len(claims(synced)) == len(channels)
    # One top-level post per channel claim; the sponsor's line is one DM per platform.
    assert "sponsor:dan" in channels
    posts = [r for r in top_level(synced) if not (r.dedupe_key or "").startswith("digest:sponsor")]
    assert len(posts) == len(channels) - 1


def test_the_scheduler_checks_for_due_digests_soon_after_start_and_every_minute(
    sqlite_url: str,
) -> None:
    from launchops.scheduler import DIGEST_CHECK_SECONDS, build_scheduler
    from launchops.services.incidents import IncidentService

    engine = make_engine(sqlite_url)
    digests = DigestService(engine, platforms=("slack",))
    job = build_scheduler(None, None, digests=digests).get_job("weekly-digest")
    assert job is not None and job.func.__name__ == "run_due"
    assert job.trigger.interval.total_seconds() == DIGEST_CHECK_SECONDS <= 60
    assert job.next_run_time - datetime.now(UTC) < timedelta(seconds=10)  # the catch-up
    assert build_scheduler(None, None).get_job("weekly-digest") is None
    # The context builds the one digest service; incidents alone schedule no digest.
    incidents = IncidentService(engine, platforms=("slack",))
    assert build_scheduler(None, incidents).get_job("weekly-digest") is None
    engine.dispose()


def test_a_team_override_from_the_catalog_moves_only_that_team(
    engine: Engine, tmp_path: Path
) -> None:
    """The platform team's digest is due on Wednesday 09:00 in New York."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    catalog = target / "catalog.yaml"
    catalog.write_text(
        catalog.read_text().replace(
            "  - id: platform\n",
            "  - id: platform\n    digest: {when: wed 09:00, timezone: America/New_York}\n",
            1,
        )
    )
    sync_config(engine, load_config(target), source="test", actor="test")
    monday = NOW + timedelta(hours=14)  # Monday 09:00 in New York, 23:00 in Seoul
    teams = {s.team_id for s in service(engine, Clock(monday)).run_due()}
    assert "ml" in teams and "platform" not in teams
    wednesday = service(engine, Clock(monday + timedelta(days=2)))
    assert {s.team_id for s in wednesday.run_due()} == {"platform"}
