"""Escalation that always reaches someone (DESIGN.md §4), on SQLite and PostgreSQL.

Each step pages all its targets again, people paged before included, with a message that
says it is an escalation; a step that reaches nobody moves on at once; a page refused for
good is noted in the thread by name and reason, and escalates at once when nobody at the
step was reached. Pages are refused by a recording Sender behind the real Dispatcher, so the
hook from delivery to the incident service is exercised as `main.py` wires it.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from launchops.config import load_config
from launchops.delivery.dispatcher import Dispatcher
from launchops.delivery.sender import Delivery, PermanentFailure
from launchops.domain.paging import PageReason
from launchops.messages.incident_views import escalation_card, incident_card
from launchops.services import actors
from launchops.services.config_sync import sync_config
from launchops.services.incidents import Actor, IncidentService
from launchops.services.people import PeopleService
from launchops.store import session_scope
from launchops.store.models import IncidentResponder, OutboxMessage
from tests.conftest import fast_config


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class RefusingSlack:
    """Slack that refuses DMs to `refused` users for good, as the real sender reports it."""

    platform = "slack"

    def __init__(self, refused: dict[str, str]) -> None:
        self.refused = refused
        self.sent: list[Delivery] = []

    def send(self, delivery: Delivery) -> dict[str, Any]:
        user = delivery.destination.get("user")
        if delivery.kind == "dm" and user in self.refused:
            raise PermanentFailure(f"Slack answered 200 {self.refused[user]}")
        self.sent.append(delivery)
        return {"channel": delivery.destination.get("channel") or f"D{user}", "ts": "1.0"}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def configure(engine: Engine, tmp_path: Path, *, drop_slack_of: str | None = None) -> None:
    directory = fast_config(tmp_path)
    if drop_slack_of:
        catalog = directory / "catalog.yaml"
        text = catalog.read_text()
        needle = f"slack: U0{drop_slack_of.upper()}, "
        assert needle in text
        catalog.write_text(text.replace(needle, ""))
    sync_config(engine, load_config(directory), source="t", actor="t")


@pytest.fixture
def fast(engine: Engine, tmp_path: Path) -> Engine:
    configure(engine, tmp_path)
    return engine


def service(engine: Engine, clock: Clock) -> IncidentService:
    return IncidentService(engine, platforms=("slack",), clock=clock)


def actor(engine: Engine, slack_id: str) -> Actor:
    viewer = PeopleService(engine).identify("slack", (slack_id,))
    return Actor(viewer=viewer, label=viewer.name or slack_id)


def outbox(engine: Engine) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def dms_to(engine: Engine, user: str) -> list[str]:
    return [
        m.payload["text"]
        for m in outbox(engine)
        if m.kind == "dm" and m.destination["user"] == user
    ]


def notes(engine: Engine) -> list[str]:
    return [m.payload["text"] for m in outbox(engine) if m.destination.get("thread")]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def deliver(engine: Engine, incidents: IncidentService, refused: dict[str, str]) -> RefusingSlack:
    slack = RefusingSlack(refused)
    dispatcher = Dispatcher(engine, {"slack": slack}, on_dead=incidents.page_failed)
    assert dispatcher.drain(timeout=10)
    return slack


def test_p0_escalation_pages_the_accountable_again_then_leadership(
    fast: Engine, clock: Clock
) -> None:
    """The shipped P0 policy: Henry (Accountable for the gateway) is paged at declaration,
    then again as an escalation at the first deadline; Leadership at the second."""
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p0", title="down", component_query="gateway", actor=actor(fast, "U0ALICE")
    ).incident.id
    assert len(dms_to(fast, "U0HENRY")) == 1
    steps_before = sample(
        "launchops_incident_escalation_steps_total", severity="p0", trigger="deadline"
    )
    clock.now += timedelta(seconds=2)
    assert incidents.escalate_due() == 1
    first, again = dms_to(fast, "U0HENRY")
    assert first.startswith("You are paged")
    assert again.startswith(f"P0 INC-{n} still unacknowledged after 2 s: escalated to you")
    assert notes(fast)[-1] == "Not acknowledged in time: escalated to Henry Ford (step 1)."
    assert dms_to(fast, "U0GRACE") == []
    assert incidents.escalate_due() == 0  # once

    clock.now += timedelta(seconds=2)
    assert incidents.escalate_due() == 1
    assert dms_to(fast, "U0GRACE")[0].startswith(f"P0 INC-{n} still unacknowledged after 4 s")
    assert len(dms_to(fast, "U0OLIVIA")) == 1
    channels = [m.destination.get("channel") for m in outbox(fast) if m.kind == "post"]
    assert "C0LEADERS" in channels
    assert notes(fast)[-1] == (
        "Not acknowledged in time: escalated to Olivia Brown, Grace Hopper, Leadership (step 2)."
    )
    assert not any("team:" in text or "accountable" in text for text in notes(fast))
    assert sample(
        "launchops_incident_escalation_steps_total", severity="p0", trigger="deadline"
    ) == (steps_before + 2)


def test_escalation_by_hand_skips_whoever_acknowledged(fast: Engine, clock: Clock) -> None:
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p0", title="down", component_query="gateway", actor=actor(fast, "U0ALICE")
    ).incident.id
    incidents.acknowledge(n, actor(fast, "U0HENRY"))
    outcome = incidents.escalate(n, actor(fast, "U0HENRY"))
    # step 1 is Henry alone, and he acknowledged: it reaches nobody, so step 2 follows
    assert outcome.paged == ("Olivia Brown", "Grace Hopper")
    assert len(dms_to(fast, "U0HENRY")) == 1
    assert dms_to(fast, "U0GRACE")[0].startswith(f"Henry Ford escalated P0 INC-{n} to you")
    assert incidents.escalate(n, actor(fast, "U0IVY")).paged == ()  # no step left


def test_a_step_that_reaches_nobody_moves_on_at_once(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    """Carol, Accountable for the Retriever, has no Slack id: step 1 of a P0 reaches nobody,
    so the same sweep goes on to Leadership instead of waiting another deadline."""
    configure(engine, tmp_path, drop_slack_of="carol")
    incidents = service(engine, clock)
    incidents.declare(
        level="p0", title="down", component_query="rag", actor=actor(engine, "U0ALICE")
    )
    clock.now += timedelta(seconds=2)
    assert incidents.escalate_due() == 1
    said = notes(engine)
    skipped = said.index("Escalation step 1 reached nobody: moving on to the next step.")
    escalated = said.index(
        "Not acknowledged in time: escalated to Olivia Brown, Grace Hopper, Leadership (step 2)."
    )
    assert skipped < escalated
    assert len(dms_to(engine, "U0GRACE")) == 1


def test_a_refused_page_is_noted_and_escalates_at_once(fast: Engine, clock: Clock) -> None:
    """Chris, the only person a P1 pages, has a deactivated account: the thread names him
    and the reason, the card lists him as not reached, and Carol is paged by the next sweep
    without waiting out the deadline."""
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p1", title="x", component_query="rag", actor=actor(fast, "U0ALICE")
    ).incident.id
    failed_before = sample(
        "launchops_incident_pages_failed_total", platform="slack", reason="account_inactive"
    )
    deliver(fast, incidents, {"U0CHRIS": "account_inactive"})

    assert notes(fast) == [
        "Could not reach Chris Novak: account deactivated.",
        "Nobody paged at this step could be reached: escalating now.",
    ]
    view = incidents.get(n)
    assert view.responders == () and [u.name for u in view.unreached] == ["Chris Novak"]
    card = incident_card(view, "en").card
    assert card is not None
    shown = {f.label: f.value for f in card.fields}
    assert shown["Could not reach"] == "Chris Novak (account deactivated)"
    with session_scope(fast) as session:
        chris = session.get(IncidentResponder, (n, "chris"))
        assert chris is not None and chris.page_error == "account_inactive"
    assert view.ack_deadline == clock.now
    assert sample(
        "launchops_incident_pages_failed_total", platform="slack", reason="account_inactive"
    ) == (failed_before + 1)

    assert incidents.escalate_due() == 1  # no deadline to wait out
    assert len(dms_to(fast, "U0CAROL")) == 1
    incidents.page_failed(999_999, "Slack answered 200 user_not_found")  # not a page: ignored


def test_a_refused_page_with_others_reached_only_notes_it(fast: Engine, clock: Clock) -> None:
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p0", title="down", component_query="gateway", actor=actor(fast, "U0ALICE")
    ).incident.id
    deliver(fast, incidents, {"U0BOB": "user_not_found"})
    assert notes(fast) == ["Could not reach Bob Lee: user not found."]
    assert incidents.get(n).ack_deadline == clock.now + timedelta(seconds=2)


def test_the_last_step_refused_says_no_step_is_left(fast: Engine, clock: Clock) -> None:
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p1", title="x", component_query="rag", actor=actor(fast, "U0ALICE")
    ).incident.id
    clock.now += timedelta(seconds=2)
    assert incidents.escalate_due() == 1
    deliver(fast, incidents, {"U0CAROL": "channel_not_found"})
    assert notes(fast)[-2:] == [
        "Could not reach Carol Jones: conversation not found.",
        "Nobody paged at this step could be reached and no escalation steps are left.",
    ]
    assert incidents.get(n).ack_deadline is None
    clock.now += timedelta(seconds=5)
    assert incidents.escalate_due() == 0
    assert notes(fast)[-1].startswith("Nobody paged at this step")  # said once


def test_twice_refused_at_one_step_escalates_once(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    """Both Leadership members refuse (two dead rows judged one after the other): one
    "escalating now", not two."""
    configure(engine, tmp_path)
    incidents = service(engine, clock)
    incidents.declare(level="p1", title="x", team_id="leadership", actor=actor(engine, "U0ALICE"))
    deliver(engine, incidents, {"U0OLIVIA": "account_inactive", "U0GRACE": "account_inactive"})
    assert notes(engine).count("Nobody paged at this step could be reached: escalating now.") == 1
    assert len([n for n in notes(engine) if n.startswith("Could not reach")]) == 2


def test_confidential_runbook_is_shown_to_responders_only(fast: Engine, clock: Clock) -> None:
    """Guardrails are confidential: the runbook is on the pages and the Responsible (Legal)
    team's card, not on Leadership's card nor in edits of it, nor on a card for anyone."""
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p0", title="filter off", component_query="guardrails", actor=actor(fast, "U0ALICE")
    ).incident.id
    clock.now += timedelta(seconds=2)
    incidents.escalate_due()
    clock.now += timedelta(seconds=2)
    incidents.escalate_due()
    incidents.acknowledge(n, actor(fast, "U0DAN"))

    def has_runbook(message: OutboxMessage) -> bool:
        return "runbooks/guardrails" in str(message.payload)

    rows = outbox(fast)
    pages = [m for m in rows if m.kind == "dm"]
    assert pages and all(has_runbook(m) for m in pages)
    by_channel = {m.destination.get("channel"): m for m in rows if m.kind == "post"}
    assert has_runbook(by_channel["C0LEGAL"])
    assert not has_runbook(by_channel["C0LEADERS"])
    updates = [m for m in rows if m.kind == "update"]
    leaders = {m.id for m in updates if m.depends_on == by_channel["C0LEADERS"].id}
    assert leaders and all(has_runbook(m) != (m.id in leaders) for m in updates)
    assert "runbooks" not in str(incident_card(incidents.get(n), "en"))
    open_one = incidents.declare(
        level="p0", title="slow", component_query="rag", actor=actor(fast, "U0ALICE")
    )
    assert "runbooks/retriever" in str(incident_card(open_one.incident, "en"))


def test_escalation_text_reads_well_in_korean(fast: Engine, clock: Clock) -> None:
    incidents = service(fast, clock)
    view = incidents.declare(
        level="p0", title="down", component_query="gateway", actor=actor(fast, "U0ALICE")
    ).incident
    reason = PageReason("accountable")
    text = escalation_card(view, "ko", reason, {}, waited=timedelta(minutes=15, seconds=4)).text
    assert text.startswith(f"P0 INC-{view.id}이(가) 15분 동안 확인되지 않아 에스컬레이션")
    english = escalation_card(view, "en", reason, {}, waited=timedelta(hours=1, minutes=2)).text
    assert english.startswith(f"P0 INC-{view.id} still unacknowledged after 1 h 2 min")


def test_incident_metrics_count_declared_acknowledged_resolved(fast: Engine, clock: Clock) -> None:
    names = ("declared", "acknowledged", "resolved")
    before = [sample(f"launchops_incidents_{k}_total", severity="p2") for k in names]
    incidents = service(fast, clock)
    n = incidents.declare(
        level="p2", title="slow", component_query="rag", actor=actor(fast, "U0ALICE")
    ).incident.id
    incidents.acknowledge(n, actor(fast, "U0CHRIS"))
    with pytest.raises(Exception, match="already"):
        incidents.acknowledge(n, actor(fast, "U0CHRIS"))  # refused: not counted
    incidents.resolve(n, actor(fast, "U0CHRIS"))
    after = [sample(f"launchops_incidents_{k}_total", severity="p2") for k in names]
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]


def test_the_messenger_no_longer_imports_the_incident_service() -> None:
    """Actor has its own module: the two incident modules no longer import each other."""
    code = (
        "import sys, launchops.services.incident_messages as m, launchops.services.escalation;"
        "print('launchops.services.incidents' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert Actor is actors.Actor
