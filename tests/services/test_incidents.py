"""Incident use cases on SQLite and PostgreSQL: paging, permissions, escalation, dedupe."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from launchops.config import load_config
from launchops.domain.errors import BadCommand, Forbidden, InvalidTransition, NotFound
from launchops.services.config_sync import sync_config
from launchops.services.incidents import Actor, IncidentService
from launchops.services.people import PeopleService
from launchops.store import make_engine, session_scope
from launchops.store.models import AuditEntry, Incident, IncidentResponder, OutboxMessage
from tests.conftest import fast_config


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fast(engine: Engine, tmp_path: Path) -> Engine:
    sync_config(engine, load_config(fast_config(tmp_path)), source="fast", actor="test")
    return engine


def service(
    engine: Engine, clock: Clock, platforms: tuple[str, ...] = ("slack",)
) -> IncidentService:
    return IncidentService(engine, platforms=platforms, clock=clock)


def actor(engine: Engine, slack_id: str) -> Actor:
    viewer = PeopleService(engine).identify("slack", (slack_id,))
    return Actor(viewer=viewer, label=viewer.name or slack_id)


def outbox(engine: Engine) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def dm_users(engine: Engine) -> list[str]:
    return [m.destination["user"] for m in outbox(engine) if m.kind == "dm"]


def test_p1_pages_the_responsible_team_and_posts_in_its_channel(fast: Engine, clock: Clock) -> None:
    declared = service(fast, clock).declare(
        level="p1", title="empty answers", component_query="rag", actor=actor(fast, "U0ALICE")
    )
    assert declared.created
    assert declared.paged == ("Chris Novak",)
    assert declared.channels == ("Data team",)
    assert dm_users(fast) == ["U0CHRIS"]
    posts = [m for m in outbox(fast) if m.kind == "post"]
    assert [p.destination["channel"] for p in posts] == ["C0DATA"]
    buttons = [a["value"] for a in posts[0].payload["card"]["actions"]]
    n = declared.incident.id
    assert buttons == [
        f"incident ack {n}",
        f"incident escalate {n}",
        f"incident resolve {n}",
        f"incident severity {n}",
    ]
    assert declared.incident.ack_deadline == clock.now + timedelta(seconds=2)


def test_p0_pages_everyone_on_call_and_the_accountable(fast: Engine, clock: Clock) -> None:
    p0 = service(fast, clock).declare(
        level="p0", title="down", component_query="gateway", actor=actor(fast, "U0ALICE")
    )
    paged = set(dm_users(fast))
    # on call: ml bob+alice, platform ivy+henry, data chris, product kevin, legal dan,
    # security erin, cs mia; accountable henry (already on call)
    assert paged == {
        "U0BOB",
        "U0ALICE",
        "U0IVY",
        "U0HENRY",
        "U0CHRIS",
        "U0KEVIN",
        "U0DAN",
        "U0ERIN",
        "U0MIA",
    }
    assert len(p0.paged) == 9


def test_p3_goes_to_the_backlog_and_pages_nobody(fast: Engine, clock: Clock) -> None:
    declared = service(fast, clock).declare(
        level="p3",
        title="typo in fallback",
        component_query="fallbacks",
        actor=actor(fast, "U0JUDY"),
    )
    assert declared.paged == () and declared.channels == ()
    assert outbox(fast) == []
    assert declared.incident.ack_deadline is None


def test_only_responders_and_raci_may_acknowledge(fast: Engine, clock: Clock) -> None:
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p1", title="x", component_query="rag", actor=actor(fast, "U0ALICE")
    ).incident.id
    with pytest.raises(Forbidden):
        incidents.acknowledge(n, actor(fast, "U0GRACE"))  # business: not involved
    with pytest.raises(Forbidden):
        incidents.acknowledge(
            n, Actor(PeopleService(fast).identify("slack", ("UNOBODY",)), "stranger")
        )
    outcome = incidents.acknowledge(n, actor(fast, "U0CAROL"))  # data team member, A
    assert outcome.incident.status == "acknowledged"
    with pytest.raises(InvalidTransition) as caught:
        incidents.acknowledge(n, actor(fast, "U0CHRIS"))
    assert caught.value.params["person"] == "Carol Jones"
    with session_scope(fast) as session:
        acks = session.exec(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "incident.acknowledged")
        ).one()
    assert acks == 1
    updates = [m for m in outbox(fast) if m.kind == "update"]
    assert len(updates) == 2  # the channel card and Chris's page, edited in place
    notes = [m for m in outbox(fast) if m.destination.get("thread")]
    assert [n.payload["text"] for n in notes] == ["Acknowledged by Carol Jones."]


def test_unacknowledged_p1_escalates_to_the_accountable_once(fast: Engine, clock: Clock) -> None:
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p1", title="x", component_query="rag", actor=actor(fast, "U0ALICE")
    ).incident.id
    assert incidents.escalate_due() == 0
    clock.now += timedelta(seconds=3)
    assert incidents.escalate_due() == 1
    assert incidents.escalate_due() == 0  # not twice
    assert dm_users(fast) == ["U0CHRIS", "U0CAROL"]
    clock.now += timedelta(seconds=3)
    assert incidents.escalate_due() == 0  # no step left: one "exhausted" note, no page
    notes = [m.payload["text"] for m in outbox(fast) if m.destination.get("thread")]
    assert notes[0].startswith("Not acknowledged in time: escalated to Carol Jones")
    assert notes[-1] == "Still not acknowledged and no escalation steps are left."
    assert incidents.get(n).ack_deadline is None


def test_acknowledged_incident_does_not_escalate(fast: Engine, clock: Clock) -> None:
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p1", title="x", component_query="rag", actor=actor(fast, "U0ALICE")
    ).incident.id
    incidents.acknowledge(n, actor(fast, "U0CHRIS"))
    clock.now += timedelta(minutes=5)
    assert incidents.escalate_due() == 0
    assert dm_users(fast) == ["U0CHRIS"]


def test_two_sweepers_on_separate_engines_escalate_once(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    engines = [make_engine(db_url) for _ in range(2)]
    try:
        sync_config(engines[0], load_config(fast_config(tmp_path)), source="t", actor="t")
        incidents = [service(e, clock) for e in engines]
        for i in range(10):
            incidents[0].declare(
                level="p1", title=f"x{i}", component_query="rag", actor=actor(engines[0], "U0ALICE")
            )
        clock.now += timedelta(seconds=5)
        done = [0, 0]

        def sweep(index: int) -> None:
            for _ in range(5):
                done[index] += incidents[index].escalate_due()

        threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(done) == 10
        assert dm_users(engines[0]).count("U0CAROL") == 10
    finally:
        for e in engines:
            e.dispose()


def test_same_declare_key_is_one_incident(fast: Engine, clock: Clock) -> None:
    incidents = service(fast, clock)
    first = incidents.declare(
        level="p1",
        title="x",
        component_query="rag",
        actor=actor(fast, "U0ALICE"),
        declare_key="slack:trigger:1",
    )
    again = incidents.declare(
        level="p1",
        title="x",
        component_query="rag",
        actor=actor(fast, "U0ALICE"),
        declare_key="slack:trigger:1",
    )
    assert first.created and not again.created
    assert again.incident.id == first.incident.id
    assert dm_users(fast) == ["U0CHRIS"]


def test_change_severity_repages_by_the_new_level(fast: Engine, clock: Clock) -> None:
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p2", title="slow", component_query="rag", actor=actor(fast, "U0ALICE")
    ).incident.id
    assert dm_users(fast) == ["U0CHRIS"]
    outcome = incidents.change_severity(n, "p0", actor(fast, "U0CHRIS"))
    assert outcome.incident.severity == "p0"
    assert len(set(dm_users(fast))) == 10  # everyone on call plus Carol (accountable)
    assert dm_users(fast).count("U0CHRIS") == 1


def test_resolve_records_time_and_refuses_twice(fast: Engine, clock: Clock) -> None:
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p1", title="x", component_query="rag", actor=actor(fast, "U0ALICE")
    ).incident.id
    clock.now += timedelta(minutes=7)
    outcome = incidents.resolve(n, actor(fast, "U0CHRIS"))
    assert outcome.incident.status == "resolved"
    assert outcome.incident.resolved_at == clock.now
    with pytest.raises(InvalidTransition):
        incidents.resolve(n, actor(fast, "U0CHRIS"))
    with session_scope(fast) as session:
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.action == "incident.resolved")
        ).one()
    assert entry.detail["seconds_to_resolve"] == 420


@pytest.mark.parametrize(
    ("kwargs", "error", "key"),
    [
        (
            {"level": "p9", "title": "x", "component_query": "rag"},
            BadCommand,
            "error.unknown_severity",
        ),
        ({"level": "p1", "title": "  ", "component_query": "rag"}, BadCommand, "usage.incident"),
        (
            {"level": "p1", "title": "x" * 201, "component_query": "rag"},
            BadCommand,
            "error.title_too_long",
        ),
        (
            {"level": "p1", "title": "x", "component_query": "retreiver"},
            NotFound,
            "error.unknown_component",
        ),
        ({"level": "p1", "title": "x"}, BadCommand, "error.incident_needs_component"),
    ],
)
def test_bad_input_changes_nothing(
    fast: Engine, clock: Clock, kwargs: dict[str, str], error: type[Exception], key: str
) -> None:
    with pytest.raises(error) as caught:
        service(fast, clock).declare(actor=actor(fast, "U0ALICE"), **kwargs)  # type: ignore[arg-type]
    assert getattr(caught.value, "key", None) == key
    with session_scope(fast) as session:
        assert session.exec(select(func.count()).select_from(Incident)).one() == 0
    assert outbox(fast) == []


def test_people_without_a_chat_id_are_reported_unreachable(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    directory = fast_config(tmp_path)
    catalog = directory / "catalog.yaml"
    text = catalog.read_text()
    assert "slack: U0OLIVIA, " in text
    catalog.write_text(text.replace("slack: U0OLIVIA, ", ""))
    sync_config(engine, load_config(directory), source="t", actor="t")
    declared = service(engine, clock).declare(
        level="p1", title="x", team_id="leadership", actor=actor(engine, "U0ALICE")
    )
    assert declared.unreachable == ("Olivia Brown",)
    assert declared.paged == ("Grace Hopper",)
    assert dm_users(engine) == ["U0GRACE"]
    with session_scope(engine) as session:
        responders = session.exec(select(IncidentResponder.person_id)).all()
    assert set(responders) == {"olivia", "grace"}


def test_pages_say_why_in_the_readers_language(fast: Engine, clock: Clock) -> None:
    incidents = service(fast, clock)
    incidents.declare(level="p1", title="x", component_query="rag", actor=actor(fast, "U0ALICE"))
    [chris_page] = [m for m in outbox(fast) if m.kind == "dm"]
    assert chris_page.payload["text"].startswith(
        "You are paged (on call for Data team, the Responsible team)"
    )
    incidents.declare(level="p0", title="y", component_query="model", actor=actor(fast, "U0ALICE"))
    minjun = [m for m in outbox(fast) if m.kind == "dm" and m.destination["user"] == "U0MINJUN"]
    assert minjun == []  # not on call: P0 pages on-call people and the Accountable only
    bob = [m for m in outbox(fast) if m.kind == "dm" and m.destination["user"] == "U0BOB"]
    assert bob[-1].payload["text"].startswith("You are paged (on call for ML team)")
    incidents.declare(level="p1", title="z", team_id="leadership", actor=actor(fast, "U0ALICE"))
    grace = [m for m in outbox(fast) if m.kind == "dm" and m.destination["user"] == "U0GRACE"]
    assert (
        grace[-1]
        .payload["text"]
        .startswith("You are paged (member of Leadership, the Responsible team)")
    )
    mia = [m for m in outbox(fast) if m.kind == "dm" and m.destination["user"] == "U0MIA"]
    assert mia[-1].payload["text"].startswith("호출되었습니다 (Customer support 당번)")
