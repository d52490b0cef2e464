"""When a gate closes, the approvers' DMs are edited to the outcome without buttons; when a
config sync turns a checked item ❌ under an open gate, that is an evidence change."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from launchops.domain.errors import InvalidTransition
from launchops.services.gates import GateService
from launchops.store.models import OutboxMessage
from tests.conftest import CONFIG_DIR
from tests.services.gate_support import (
    Clock,
    actor,
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

EVERYONE = ["U0DAN", "U0ERIN", "U0FRANK", "U0GRACE", "U0MIA"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def edits_of_dms(engine: Engine) -> list[tuple[OutboxMessage, OutboxMessage]]:
    """(the edit, the DM it edits) for every edit of a DM with buttons."""
    rows = outbox(engine)
    by_id = {m.id: m for m in rows}
    return [
        (m, by_id[m.depends_on])
        for m in rows
        if m.kind == "update" and m.depends_on is not None and by_id[m.depends_on].kind == "dm"
    ]


def test_a_pass_edits_every_approvers_dm_to_the_outcome_without_buttons(
    engine: Engine, clock: Clock
) -> None:
    sync(engine)
    gates = service(engine, clock)
    gate = gates.request("support-assistant", "production", actor(engine, "U0ALICE")).gate.id
    for person in ("U0DAN", "U0ERIN", "U0FRANK"):
        gates.decide(gate, "approve", actor(engine, person))
    assert edits_of_dms(engine) == []  # open: the buttons stay
    gates.decide(gate, "approve", actor(engine, "U0GRACE"))
    assert stage_of(engine, "support-assistant") == "production"
    edits = edits_of_dms(engine)
    assert sorted(dm.destination["user"] for _, dm in edits) == EVERYONE
    for edit, dm in edits:
        assert edit.locale == dm.locale
        card = edit.payload["card"]
        assert card["actions"] == []
        assert card["title"].startswith("✅")
    mia = next(edit for edit, dm in edits if dm.destination["user"] == "U0MIA")
    assert "프로덕션" in mia.payload["text"]  # her DM in her language
    dan = next(edit for edit, dm in edits if dm.destination["user"] == "U0DAN")
    assert "moved to Production" in dan.payload["card"]["note"]
    with pytest.raises(InvalidTransition):  # too late: changes nothing
        gates.decide(gate, "approve", actor(engine, "U0MIA"))
    assert len(edits_of_dms(engine)) == len(EVERYONE)


def test_a_rejection_and_an_expiry_edit_the_dms_too(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    sync(engine, fast_gates(tmp_path, expire="10s", remind="3s"))
    gates = service(engine, clock)
    alice = actor(engine, "U0ALICE")
    rejected = gates.request("support-assistant", "production", alice).gate.id
    gates.decide(rejected, "reject", actor(engine, "U0ERIN"), reason="no pen test yet")
    edits = edits_of_dms(engine)
    assert len(edits) == len(EVERYONE)
    assert all("no pen test yet" in edit.payload["text"] for edit, _ in edits)
    assert all(edit.payload["card"]["title"].startswith("⛔") for edit, _ in edits)

    expiring = gates.request("support-assistant", "production", alice).gate.id
    clock.advance(3)
    assert gates.sweep() == 1  # a reminder: more DMs with buttons
    clock.advance(7)
    assert gates.sweep() == 1
    assert requests(engine)[-1].status == "expired"
    mine = [
        (edit, dm)
        for edit, dm in edits_of_dms(engine)
        if (dm.dedupe_key or "").startswith(f"gate:{expiring}:")
    ]
    kinds = sorted((dm.dedupe_key or "").split(":")[2] for _, dm in mine)
    assert kinds == ["ask"] * 5 + ["remind"] * 5  # the request and the reminder, each edited
    assert all(edit.payload["card"]["title"].startswith("⌛") for edit, _ in mine)
    assert gates.sweep() == 0
    assert len(edits_of_dms(engine)) == 15  # 5 after the rejection, 10 after the expiry


def catalog_without(tmp_path: Path, line: str) -> Path:
    target = tmp_path / "edited"
    target.mkdir(exist_ok=True)
    (target / "policy.yaml").write_text((CONFIG_DIR / "policy.yaml").read_text())
    catalog = (CONFIG_DIR / "catalog.yaml").read_text()
    assert catalog.count(line) == 1
    (target / "catalog.yaml").write_text(catalog.replace(line, ""))
    return target


def test_a_sync_removing_a_runbook_makes_earlier_approvals_stale(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    sync(engine)
    gates = service(engine, clock)
    gate = gates.request("support-assistant", "production", actor(engine, "U0ALICE")).gate.id
    assert gates.sweep() == 0  # the first sweep checks the revision in force: nothing changed
    for person in ("U0DAN", "U0ERIN"):
        gates.decide(gate, "approve", actor(engine, person))

    sync(
        engine, catalog_without(tmp_path, "    runbook: https://wiki.example/runbooks/retriever\n")
    )
    assert gates.sweep() == 1
    [request] = requests(engine)
    assert request.evidence_version == 2
    changed = [m for m in dms(engine) if (m.dedupe_key or "").startswith(f"gate:{gate}:changed:2:")]
    assert sorted(m.destination["user"] for m in changed) == ["U0DAN", "U0ERIN"]
    assert "Runbook links (Retriever)" in changed[0].payload["text"]
    assert {a["value"] for a in changed[0].payload["card"]["actions"]} == {f"{gate}:2"}
    view = gates.status("support-assistant").open
    assert view is not None and set(view.stale) == {"Dan Rivera", "Erin Walsh"}
    assert next(i for i in view.evidence if i.key == "launch.runbook").ok is False
    assert audit_actions(engine).count("gate.evidence_changed") == 1

    # Another replica (its own sweeper) and the next sweeps find nothing new.
    assert service(engine, clock).sweep() == 0 and gates.sweep() == 0
    for person in ("U0FRANK", "U0GRACE"):
        gates.decide(gate, "approve", actor(engine, person))
    assert requests(engine)[0].status == "open"
    for person in ("U0DAN", "U0ERIN"):
        gates.decide(gate, "approve", actor(engine, person))
    assert requests(engine)[0].status == "passed"
    assert [d.evidence_version for d in decisions(engine)] == [1, 1, 2, 2, 2, 2]


def test_a_sync_leaving_a_team_without_on_call_counts_and_an_unrelated_one_does_not(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    sync(engine)
    gates: GateService = service(engine, clock)
    gates.request("support-assistant", "production", actor(engine, "U0ALICE"))
    gates.decide(1, "approve", actor(engine, "U0DAN"))
    # deploy-pipeline is not one of the project's components: nothing changes.
    sync(engine, catalog_without(tmp_path, "    runbook: https://wiki.example/runbooks/deploy\n"))
    assert gates.sweep() == 0 and requests(engine)[0].evidence_version == 1
    # The product team (Responsible for the chat widget and fallbacks) loses its on-call.
    sync(engine, catalog_without(tmp_path, "    oncall: [kevin]\n"))
    assert gates.sweep() == 1
    [request] = requests(engine)
    assert request.evidence_version == 2
    view = gates.status("support-assistant").open
    assert view is not None and view.stale == ("Dan Rivera",)
    [change] = view.changes
    assert "incident owner" in change.reason and "Chat widget" in change.reason
