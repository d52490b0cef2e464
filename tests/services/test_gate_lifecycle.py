"""Gates over time and under contention: reminders and expiry with deadlines in seconds (an
injected clock, a restart in between), evidence changed by a P1 mid-vote, and two engines
deciding at once on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from launchops.messages import gate_views as cards
from launchops.services.gates import Decided, GateService
from launchops.store import make_engine, session_scope
from launchops.store.gate_models import EvidenceChange
from launchops.store.models import Incident
from tests.services.gate_support import (
    Clock,
    actor,
    announcements,
    audit_actions,
    decisions,
    dms,
    fast_gates,
    outbox,
    requests,
    service,
    stage_of,
    sync,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def reminded(engine: Engine, number: int) -> list[str]:
    prefix = f"gate:1:remind:{number}:"
    return sorted(m.destination["user"] for m in dms(engine) if m.dedupe_key.startswith(prefix))


def test_reminders_go_to_those_pending_once_and_the_gate_expires(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    sync(engine, fast_gates(tmp_path, expire="10s", remind="3s"))
    gates = service(engine, clock)
    gate = gates.request("support-assistant", "production", actor(engine, "U0ALICE")).gate.id
    assert gates.sweep() == 0
    clock.advance(3)
    assert gates.sweep() == 1
    everyone = ["U0DAN", "U0ERIN", "U0FRANK", "U0GRACE", "U0MIA"]
    assert reminded(engine, 1) == everyone
    assert gates.sweep() == 0  # the same deadline, swept again
    gates.decide(gate, "approve", actor(engine, "U0DAN"))
    restarted = service(engine, clock)  # a new process: the deadlines live in the store
    assert restarted.sweep() == 0
    clock.advance(3.5)
    assert restarted.sweep() == 1
    assert reminded(engine, 2) == ["U0ERIN", "U0FRANK", "U0GRACE", "U0MIA"]
    clock.advance(3)  # 9.5 s: the third reminder only
    assert restarted.sweep() == 1 and reminded(engine, 3) == reminded(engine, 2)
    assert requests(engine)[0].next_reminder_at is None  # the next would fall after expiry
    clock.advance(0.5)
    assert restarted.sweep() == 1
    assert requests(engine)[0].status == "expired"
    assert stage_of(engine, "support-assistant") == "pilot"
    [announced] = announcements(engine)
    assert "expired" in announced.payload["text"]
    assert gates.sweep() == 0 and restarted.sweep() == 0
    assert audit_actions(engine).count("gate.reminded") == 3
    assert audit_actions(engine).count("gate.expired") == 1


def declare_p1(engine: Engine, gates: GateService, *, fail: bool = False) -> list[int]:
    """What the incident service does: the P1 and the evidence change in one transaction."""
    with gates.unit() as session:
        incident = Incident(
            severity="p1", title="empty answers", component_id="retriever", declared_by="Carol"
        )
        session.add(incident)
        session.flush()
        changed = gates.evidence_changed(
            session,
            "retriever",
            cards.incident_reason("p1", f"INC-{incident.id}", "Retriever", "empty answers", "en"),
        )
        if fail:
            raise RuntimeError("the declaration rolls back")
    return changed


def test_a_p1_mid_vote_makes_earlier_approvals_stale_until_confirmed(
    engine: Engine, clock: Clock
) -> None:
    sync(engine)
    gates = service(engine, clock)
    gate = gates.request("support-assistant", "production", actor(engine, "U0ALICE")).gate.id
    before = gates.status("support-assistant").open
    assert before is not None
    assert next(i for i in before.evidence if i.key == "check.open_major").ok is True
    for person in ("U0DAN", "U0ERIN"):
        gates.decide(gate, "approve", actor(engine, person))
    assert declare_p1(engine, gates) == [gate]

    [request] = requests(engine)
    assert request.evidence_version == 2
    changed = [m for m in dms(engine) if m.dedupe_key.startswith("gate:1:changed:2:")]
    assert sorted(m.destination["user"] for m in changed) == ["U0DAN", "U0ERIN"]
    assert "INC-1" in changed[0].payload["text"]
    assert {a["value"] for a in changed[0].payload["card"]["actions"]} == {f"{gate}:2"}
    view = gates.status("support-assistant").open
    assert view is not None and set(view.stale) == {"Dan Rivera", "Erin Walsh"}
    assert next(i for i in view.evidence if i.key == "check.open_major").ok is False
    with session_scope(engine) as session:
        assert len(session.exec(select(EvidenceChange)).all()) == 1

    for person in ("U0FRANK", "U0GRACE"):
        gates.decide(gate, "approve", actor(engine, person))
    assert requests(engine)[0].status == "open"  # legal and security approved older evidence
    # Dan confirms from the first DM (version 1): an approval after the change counts.
    again = gates.decide(gate, "approve", actor(engine, "U0DAN"), evidence_version=1)
    assert again.recorded and again.gate.status == "open"
    final = gates.decide(gate, "approve", actor(engine, "U0ERIN"), evidence_version=2)
    assert final.gate.status == "passed"
    assert stage_of(engine, "support-assistant") == "production"
    assert [(d.person_id, d.evidence_version) for d in decisions(engine)][-2:] == [
        ("dan", 2),
        ("erin", 2),
    ]


def test_an_evidence_change_rolls_back_with_its_declaration(engine: Engine, clock: Clock) -> None:
    sync(engine)
    gates = service(engine, clock)
    gates.request("support-assistant", "production", actor(engine, "U0ALICE"))
    gates.decide(1, "approve", actor(engine, "U0DAN"))
    sent = len(outbox(engine))
    with pytest.raises(RuntimeError):
        declare_p1(engine, gates, fail=True)
    assert requests(engine)[0].evidence_version == 1 and len(outbox(engine)) == sent
    with gates.unit() as session:  # a component of no project with an open gate
        assert gates.evidence_changed(session, "deploy-pipeline", "P0 elsewhere") == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_engines_deciding_at_once_record_each_once_and_announce_once(
    db_url: str, engine: Engine, clock: Clock
) -> None:
    sync(engine)
    other = make_engine(db_url)
    try:
        first, second = service(engine, clock), service(other, clock)
        gate = first.request("support-assistant", "production", actor(engine, "U0ALICE")).gate.id

        def together(*calls: Callable[[], Decided]) -> list[Decided]:
            barrier = threading.Barrier(len(calls))
            results: list[Decided] = []
            errors: list[BaseException] = []

            def run(call: Callable[[], Decided]) -> None:
                barrier.wait()
                try:
                    results.append(call())
                except BaseException as error:  # reported below, in the test's thread
                    errors.append(error)

            threads = [threading.Thread(target=run, args=(c,)) for c in calls]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            return results

        dan, erin = actor(engine, "U0DAN"), actor(engine, "U0ERIN")
        double = together(
            lambda: first.decide(gate, "approve", dan), lambda: second.decide(gate, "approve", dan)
        )
        assert sorted(d.recorded for d in double) == [False, True]
        first.decide(gate, "approve", erin)
        frank, grace = actor(engine, "U0FRANK"), actor(engine, "U0GRACE")
        last = together(
            lambda: first.decide(gate, "approve", frank),
            lambda: second.decide(gate, "approve", grace),
        )
        assert all(d.recorded for d in last)
        assert sorted(d.person_id for d in decisions(engine)) == ["dan", "erin", "frank", "grace"]
        assert requests(engine)[0].status == "passed"
        assert stage_of(engine, "support-assistant") == "production"
        assert len(announcements(engine)) == 1
        assert audit_actions(engine).count("gate.passed") == 1
    finally:
        other.dispose()
