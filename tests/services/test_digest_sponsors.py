"""Sponsors' weekly line (issue 11, item 3): at the digest's time each sponsor gets one
direct message with a short line per project of theirs, exactly once per (sponsor, ISO week),
claimed as channel `sponsor:<person id>`; in the sponsor's language.

In the example organisation dan sponsors support-assistant (Pilot since 2026-10-01: past its
90-day limit in January 2027). The clock is Monday 2027-01-04 10:00 in Seoul (ISO 2027-W01).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from launchops.config import load_config
from launchops.services.config_sync import sync_config
from launchops.services.digest import DigestService
from launchops.services.directory import DirectoryCache
from launchops.services.gates import GateService
from launchops.services.roadmap import RoadmapService
from launchops.store import make_engine
from tests.conftest import CONFIG_DIR
from tests.services.roadmap_support import actor
from tests.services.test_digest import MONDAY_DUE, NOW, Clock, claims, rows, service


def sponsor_rows(engine: Engine) -> list[Any]:
    return [r for r in rows(engine) if (r.dedupe_key or "").startswith("digest:sponsor:")]


def test_each_sponsor_gets_one_line_per_week_on_each_platform(synced: Engine) -> None:
    clock = Clock(MONDAY_DUE - timedelta(minutes=1))
    digests = service(synced, clock)
    assert digests.run_due() == [] and sponsor_rows(synced) == []
    clock.now = NOW
    sent = [s for s in digests.run_due() if s.channel.startswith("sponsor:")]
    assert [(s.channel, s.iso_week, s.round) for s in sent] == [("sponsor:dan", "2027-W01", 0)]
    dms = sponsor_rows(synced)
    assert [(m.platform, m.kind, m.destination) for m in dms] == [
        ("slack", "dm", {"user": "U0DAN"}),
        ("teams", "post", {"conversation": "29:1dan"}),
    ]
    text = dms[0].payload["text"]
    assert text.startswith("Your sponsored projects this week (2027-W01):")
    assert "Support assistant: Pilot, day 95 of 56 d (limit 90 d)" in text, text
    assert "over its hard limit" in text and "Ticket summarizer" not in text
    assert all(m.priority == 0 for m in dms)  # bulk: pages never wait behind it
    # The next minute, another replica, a restart: nothing more this week.
    assert digests.run_due() == []
    assert service(synced, clock).run_due() == []
    clock.now = NOW + timedelta(days=3)
    assert digests.run_due() == []
    assert len(sponsor_rows(synced)) == 2
    # Next week: once again.
    clock.now = NOW + timedelta(days=7)
    again = [s for s in digests.run_due() if s.channel.startswith("sponsor:")]
    assert [(s.channel, s.iso_week) for s in again] == [("sponsor:dan", "2027-W02")]
    assert len(sponsor_rows(synced)) == 4


def test_now_skips_a_sent_line_and_force_sends_it_again(synced: Engine) -> None:
    digests = service(synced, Clock(NOW))
    assert "sponsor:dan" in {s.channel for s in digests.send()}
    assert "sponsor:dan" not in {s.channel for s in digests.send()}
    # A team's digest sent by hand is only that team's: no sponsor line with it.
    assert all(s.team_id == "ml" for s in digests.send(team_id="ml", force=True))
    forced = [s for s in digests.send(force=True) if s.channel == "sponsor:dan"]
    assert [s.round for s in forced] == [1]
    assert [c for c in claims(synced) if c[0] == "sponsor:dan"] == [
        ("sponsor:dan", "2027-W01", 0),
        ("sponsor:dan", "2027-W01", 1),
    ]


def test_a_korean_sponsor_reads_korean_and_a_stopped_project_is_left_out(
    engine: Engine, tmp_path: Path
) -> None:
    target = tmp_path / "config"
    target.mkdir()
    catalog = (CONFIG_DIR / "catalog.yaml").read_text()
    catalog = catalog.replace("    owner: bob\n", "    owner: bob\n    sponsor: mia\n", 1)
    (target / "catalog.yaml").write_text(catalog)
    (target / "policy.yaml").write_text((CONFIG_DIR / "policy.yaml").read_text())
    sync_config(engine, load_config(target), source=str(target), actor="test")
    clock = Clock(NOW)
    gates = GateService(
        engine, platforms=("slack",), directory=DirectoryCache(engine, check_every=0), clock=clock
    )
    roadmap = RoadmapService(
        engine,
        gates=gates,
        platforms=("slack",),
        directory=DirectoryCache(engine, check_every=0),
        clock=clock,
    )
    roadmap.stop("support-assistant", "budget moved", actor(engine, "U0DAN"))
    DigestService(engine, platforms=("slack",), clock=clock).run_due()
    dms = sponsor_rows(engine)
    assert [m.destination for m in dms] == [{"user": "U0MIA"}]  # dan's only project stopped
    assert dms[0].locale == "ko"
    assert dms[0].payload["text"].startswith("이번 주 후원 프로젝트 (2027-W01):")
    assert "Ticket summarizer: PoC" in dms[0].payload["text"]


def test_replicas_racing_send_each_sponsor_one_line(db_url: str, synced: Engine) -> None:
    barrier = threading.Barrier(3)
    results: list[Any] = []

    def replica() -> None:
        engine = make_engine(db_url)
        try:
            digests = service(engine, Clock(NOW))
            barrier.wait()
            results.append(digests.run_due())
        finally:
            engine.dispose()

    threads = [threading.Thread(target=replica) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    sent = [s for result in results for s in result if s.channel.startswith("sponsor:")]
    assert [s.channel for s in sent] == ["sponsor:dan"]
    assert len(sponsor_rows(synced)) == 2  # Slack and Teams, once each
