"""Nudges at the timebox and the hard limit: once each, across sweeps, replicas and a moved
clock; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from launchops.config import load_config
from launchops.services.config_sync import sync_config
from tests.services.roadmap_support import (
    OWNER,
    POC_BUTTON,
    Clock,
    actor,
    fast_roadmap,
    roadmap_messages,
    services,
)


def _setup(engine: Engine, tmp_path: Path) -> Clock:
    directory = fast_roadmap(tmp_path)
    sync_config(engine, load_config(directory), source=str(directory), actor="test")
    # After the sync, which starts the Pilot's clock at the real time: on a loaded machine a
    # sync can take over a second, and `advance(61)` must still be past the 60 s timebox.
    return Clock()


def test_timebox_nudges_the_owner_once_with_the_three_buttons(
    engine: Engine, tmp_path: Path
) -> None:
    clock = _setup(engine, tmp_path)
    _roadmap, nudger, _gates = services(engine, clock)
    assert nudger.sweep() == 0
    clock.advance(61)
    other = services(engine, clock)[1]  # a second replica
    assert nudger.sweep() + other.sweep() == 2  # one per project (PoC and Pilot)
    assert nudger.sweep() == 0 and other.sweep() == 0
    dms = [m for m in roadmap_messages(engine) if "ticket-summarizer" in (m.dedupe_key or "")]
    assert len(dms) == 1
    message = dms[0]
    assert message.kind == "dm" and message.destination == {"user": "U0BOB"}
    card = message.payload["card"]
    assert "Does it work?" in message.payload["text"]
    assert "PoC" in card["title"]
    assert [a["id"] for a in card["actions"]] == [
        "roadmap_request_gate",
        "roadmap_extend",
        "roadmap_stop",
    ]
    assert {a["value"] for a in card["actions"]} == {POC_BUTTON}
    assert {a["style"] for a in card["actions"]} == {"default"}
    pilot = [m for m in roadmap_messages(engine) if "support-assistant" in (m.dedupe_key or "")]
    assert "Is it worth using?" in pilot[0].payload["text"]


def test_limit_tells_sponsor_and_owner_once(engine: Engine, tmp_path: Path) -> None:
    clock = _setup(engine, tmp_path)
    _roadmap, nudger, _gates = services(engine, clock)
    clock.advance(61)
    nudger.sweep()
    clock.advance(60)
    assert nudger.sweep() == 2
    assert nudger.sweep() == 0
    limit = [m for m in roadmap_messages(engine) if ":limit:" in (m.dedupe_key or "")]
    poc = [m for m in limit if "ticket-summarizer" in (m.dedupe_key or "")]
    assert sorted(m.destination["user"] for m in poc) == ["U0BOB", "U0DAN"]
    assert all("hard limit" in m.payload["card"]["title"] for m in poc)


def test_downtime_past_both_sends_only_the_limit(engine: Engine, tmp_path: Path) -> None:
    clock = _setup(engine, tmp_path)
    _roadmap, nudger, _gates = services(engine, clock)
    clock.advance(500)
    assert nudger.sweep() == 2
    clock.advance(1)
    assert nudger.sweep() == 0
    assert not [m for m in roadmap_messages(engine) if ":timebox:" in (m.dedupe_key or "")]


def test_an_extension_moves_the_clock_and_the_next_nudge(engine: Engine, tmp_path: Path) -> None:
    clock = _setup(engine, tmp_path)
    roadmap, nudger, _gates = services(engine, clock)
    clock.advance(61)
    nudger.sweep()
    extended = roadmap.extend("", "30s", "demo next week", actor(engine, OWNER), button=POC_BUTTON)
    assert extended.version == 2
    assert nudger.sweep() == 0
    clock.advance(31)
    assert nudger.sweep() == 1  # the PoC's timebox again, at its new date (version 2)
    keys = [m.dedupe_key or "" for m in roadmap_messages(engine)]
    assert any("ticket-summarizer:poc" in k and ":timebox:2:" in k for k in keys)


def test_a_stopped_project_is_never_nudged(engine: Engine, tmp_path: Path) -> None:
    clock = _setup(engine, tmp_path)
    roadmap, nudger, _gates = services(engine, clock)
    roadmap.stop("ticket-summarizer", "no budget", actor(engine, OWNER))
    clock.advance(500)
    assert nudger.sweep() == 1  # the Pilot only
    assert not [
        m
        for m in roadmap_messages(engine)
        if ":limit:" in (m.dedupe_key or "") and "ticket-summarizer" in (m.dedupe_key or "")
    ]


def test_the_scheduler_sweeps_nudges_every_second_and_checks_reports(
    engine: Engine, tmp_path: Path
) -> None:
    from launchops.scheduler import ROADMAP_SWEEP_SECONDS, build_scheduler
    from launchops.services.directory import DirectoryCache
    from launchops.services.monthly_report import MonthlyReporter

    clock = _setup(engine, tmp_path)
    nudger = services(engine, clock)[1]
    reports = MonthlyReporter(
        engine, platforms=("slack",), directory=DirectoryCache(engine, check_every=0)
    )
    scheduler = build_scheduler(None, None, nudges=nudger, monthly_reports=reports)
    job = scheduler.get_job("roadmap-nudges")
    assert job is not None and job.trigger.interval.total_seconds() == ROADMAP_SWEEP_SECONDS
    assert ROADMAP_SWEEP_SECONDS <= 10  # DESIGN.md §5: within 10 s of the deadline
    assert scheduler.get_job("monthly-report") is not None
    assert build_scheduler(None, None).get_job("roadmap-nudges") is None


def test_racing_replicas_send_each_nudge_once_and_land_one_extension(
    engine: Engine, tmp_path: Path
) -> None:
    import threading

    from launchops.domain.errors import StaleButton

    clock = _setup(engine, tmp_path)
    replicas = [services(engine, clock) for _ in range(4)]
    clock.advance(61)
    barrier = threading.Barrier(len(replicas))
    sent: list[int] = []
    outcomes: list[str] = []

    def sweep_then_extend(roadmap, nudger) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        sent.append(nudger.sweep())
        barrier.wait()
        try:
            roadmap.extend("", "30s", "one more demo", actor(engine, OWNER), button=POC_BUTTON)
            outcomes.append("extended")
        except StaleButton:
            outcomes.append("stale")

    threads = [
        threading.Thread(target=sweep_then_extend, args=(roadmap, nudger))
        for roadmap, nudger, _gates in replicas
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(sent) == 2  # one timebox nudge per project, whichever replica won it
    assert sorted(outcomes) == ["extended", "stale", "stale", "stale"]
    keys = [m.dedupe_key for m in roadmap_messages(engine)]
    assert len(keys) == len(set(keys))
    assert len([k for k in keys if k and ":ext:" in k]) == 2  # the channel note, the sponsor's DM
