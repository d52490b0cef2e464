"""Stage gates on SQLite and PostgreSQL: request, decide, pass, reject, refuse bad input."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from launchops.domain.errors import BadCommand, Forbidden, InvalidTransition, NotFound
from launchops.services.gates import GateService
from tests.services.gate_support import (
    APPROVERS,
    Clock,
    actor,
    announcements,
    audit_actions,
    decisions,
    dms,
    outbox,
    requests,
    service,
    stage_of,
    sync,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gates(engine: Engine, clock: Clock) -> GateService:
    sync(engine)
    return service(engine, clock)


def request_production(engine: Engine, gates: GateService) -> int:
    requested = gates.request("support-assistant", "production", actor(engine, "U0ALICE"))
    assert requested.created
    return requested.gate.id


def approve_all(engine: Engine, gates: GateService, gate: int, *who: str) -> None:
    for slack_id in who:
        gates.decide(gate, "approve", actor(engine, slack_id))


def test_request_dms_every_required_approver_with_the_decision_buttons(
    engine: Engine, gates: GateService
) -> None:
    requested = gates.request("Support assistant", "Production", actor(engine, "U0ALICE"))
    gate = requested.gate
    assert (gate.from_stage, gate.to_stage, gate.status) == ("pilot", "production", "open")
    assert requested.asked == ("Dan Rivera", "Erin Walsh", "Frank Osei", "이미아", "Grace Hopper")
    assert sorted(m.destination["user"] for m in dms(engine)) == sorted(
        ["U0DAN", "U0ERIN", "U0FRANK", "U0MIA", "U0GRACE"]
    )
    for message in dms(engine):
        actions = message.payload["card"]["actions"]
        assert [(a["id"], a["value"]) for a in actions] == [
            ("gate_approve", f"{gate.id}:1"),
            ("gate_reject", f"{gate.id}:1"),
            ("gate_comment", f"{gate.id}:1"),
        ]
    mia = next(m for m in dms(engine) if m.destination["user"] == "U0MIA")
    assert mia.locale == "ko" and "승인" in mia.payload["text"]
    [card] = [m for m in outbox(engine) if m.kind == "post"]
    assert card.destination == {"channel": "C0MLTEAM"}  # Alice's team's channel
    assert card.payload["card"]["actions"] == []  # decisions are made in the DMs
    assert audit_actions(engine) == ["gate.requested"]


def test_a_non_approver_is_refused_and_nothing_changes(engine: Engine, gates: GateService) -> None:
    gate = request_production(engine, gates)
    before = len(outbox(engine))
    with pytest.raises(Forbidden) as refused:
        gates.decide(gate, "approve", actor(engine, "U0BOB"))
    assert refused.value.key == "gate.error.not_approver"
    assert decisions(engine) == []
    assert len(outbox(engine)) == before
    assert audit_actions(engine) == ["gate.requested"]


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_rejection_without_a_reason_is_refused(
    engine: Engine, gates: GateService, reason: str | None
) -> None:
    gate = request_production(engine, gates)
    with pytest.raises(BadCommand) as refused:
        gates.decide(gate, "reject", actor(engine, "U0ERIN"), reason=reason)
    assert refused.value.key == "gate.error.reason_required"
    assert decisions(engine) == []
    assert requests(engine)[0].status == "open"


def test_a_rejection_closes_the_gate_and_the_stage_stays(
    engine: Engine, gates: GateService
) -> None:
    gate = request_production(engine, gates)
    approve_all(engine, gates, gate, "U0DAN")
    decided = gates.decide(gate, "reject", actor(engine, "U0ERIN"), reason="no pen test yet")
    assert decided.recorded and decided.gate.status == "rejected"
    assert decided.gate.rejected_by is not None
    assert decided.gate.rejected_by.reason == "no pen test yet"
    assert stage_of(engine, "support-assistant") == "pilot"
    [announced] = announcements(engine)
    assert "no pen test yet" in announced.payload["text"]
    with pytest.raises(InvalidTransition) as closed:
        gates.decide(gate, "approve", actor(engine, "U0GRACE"))
    assert closed.value.key == "gate.error.closed"
    assert audit_actions(engine)[-1] == "gate.rejected"


def test_every_group_approving_moves_the_project_and_a_config_sync_keeps_it(
    engine: Engine, gates: GateService
) -> None:
    gate = request_production(engine, gates)
    approve_all(engine, gates, gate, "U0DAN", "U0ERIN", "U0FRANK")
    assert requests(engine)[0].status == "open"
    assert stage_of(engine, "support-assistant") == "pilot"
    decided = gates.decide(gate, "approve", actor(engine, "U0GRACE"))
    assert decided.gate.status == "passed"
    assert stage_of(engine, "support-assistant") == "production"
    [announced] = announcements(engine)
    assert announced.destination == {"channel": "C0MLTEAM"}
    edits = [m for m in outbox(engine) if m.kind == "update" and m.dedupe_key is None]
    assert len(edits) == 4  # the summary card, edited once per decision
    closed = [m for m in outbox(engine) if (m.dedupe_key or "").startswith("gate:1:closed:")]
    assert len(closed) == 5  # and each approver's DM, once, to the outcome
    assert "✅" in edits[-1].payload["card"]["title"]
    sync(engine)  # the catalog still says `stage: pilot`
    assert stage_of(engine, "support-assistant") == "production"
    assert audit_actions(engine).count("gate.passed") == 1
    assert audit_actions(engine).count("gate.decided") == 4
    with pytest.raises(InvalidTransition):  # Mia was not needed: the gate is closed
        gates.decide(gate, "approve", actor(engine, "U0MIA"))


def test_a_double_decision_is_recorded_once(engine: Engine, gates: GateService) -> None:
    gate = request_production(engine, gates)
    first = gates.decide(gate, "approve", actor(engine, "U0DAN"), evidence_version=1)
    edits = len(outbox(engine))
    again = gates.decide(gate, "approve", actor(engine, "U0DAN"), evidence_version=1)
    changed_mind = gates.decide(gate, "reject", actor(engine, "U0DAN"), reason="second thoughts")
    assert first.recorded and not again.recorded and not changed_mind.recorded
    assert changed_mind.verdict == "approve"  # the first word counts
    assert len(decisions(engine)) == 1
    assert len(outbox(engine)) == edits
    assert requests(engine)[0].status == "open"


@pytest.mark.parametrize(
    ("project", "stage", "slack_id", "error", "key"),
    [
        ("no-such-project", "production", "U0ALICE", NotFound, "gate.error.unknown_project"),
        ("support-assistant", "moonshot", "U0ALICE", BadCommand, "gate.error.unknown_stage"),
        ("support-assistant", "scale", "U0ALICE", InvalidTransition, "gate.error.skip"),
        ("support-assistant", "poc", "U0ALICE", InvalidTransition, "gate.error.skip"),
        ("support-assistant", "pilot", "U0ALICE", InvalidTransition, "gate.error.already_there"),
        ("support-assistant", "production", "U0BOB", Forbidden, "gate.error.not_requester"),
    ],
)
def test_bad_requests_get_a_specific_refusal_and_change_nothing(
    engine: Engine,
    gates: GateService,
    project: str,
    stage: str,
    slack_id: str,
    error: type[Exception],
    key: str,
) -> None:
    with pytest.raises(error) as refused:
        gates.request(project, stage, actor(engine, slack_id))
    assert getattr(refused.value, "key", None) == key
    assert requests(engine) == [] and outbox(engine) == []
    assert audit_actions(engine) == []


def test_the_accountable_person_of_a_component_may_request(
    engine: Engine, gates: GateService
) -> None:
    requested = gates.request("support-assistant", "production", actor(engine, "U0CAROL"))
    assert requested.created and requested.gate.requested_by == "Carol Jones"


def test_a_second_request_while_one_is_open_is_refused(engine: Engine, gates: GateService) -> None:
    request_production(engine, gates)
    before = len(outbox(engine))
    with pytest.raises(InvalidTransition) as refused:
        gates.request("support-assistant", "production", actor(engine, "U0CAROL"))
    assert refused.value.key == "gate.error.already_open"
    assert len(requests(engine)) == 1 and len(outbox(engine)) == before


def test_a_retried_request_returns_the_first(engine: Engine, gates: GateService) -> None:
    alice = actor(engine, "U0ALICE")
    first = gates.request("support-assistant", "production", alice, request_key="slack:1")
    again = gates.request("support-assistant", "production", alice, request_key="slack:1")
    assert first.created and not again.created
    assert again.gate.id == first.gate.id and len(requests(engine)) == 1


def test_bad_decisions_get_a_specific_refusal_and_change_nothing(
    engine: Engine, gates: GateService
) -> None:
    gate = request_production(engine, gates)
    before = len(outbox(engine))
    dan = actor(engine, "U0DAN")
    with pytest.raises(NotFound) as missing:
        gates.decide(gate + 1, "approve", dan)  # a forged payload for another request id
    assert missing.value.key == "gate.error.not_found"
    with pytest.raises(BadCommand) as forged:
        gates.decide(gate, "approve", dan, evidence_version=2)
    assert forged.value.key == "gate.error.bad_version"
    with pytest.raises(BadCommand) as long_reason:
        gates.decide(gate, "reject", dan, reason="x" * 2001)
    assert long_reason.value.key == "gate.error.reason_too_long"
    assert decisions(engine) == [] and len(outbox(engine)) == before
    assert set(APPROVERS) == {"U0DAN", "U0ERIN", "U0FRANK", "U0GRACE"}


def test_status_shows_the_stage_the_open_request_and_history(
    engine: Engine, gates: GateService
) -> None:
    gate = request_production(engine, gates)
    gates.decide(gate, "approve", actor(engine, "U0DAN"))
    status = gates.status("support-assistant")
    assert status.stage == "pilot"
    assert status.open is not None and status.open.id == gate
    assert [d.person for d in status.open.decisions] == ["Dan Rivera"]
    gates.decide(gate, "reject", actor(engine, "U0ERIN"), reason="no pen test")
    after = gates.status("support-assistant")
    assert after.open is None and [g.status for g in after.past] == ["rejected"]
