"""The deliverables of the stage being left on every gate request (issue 11, item 4): the
guide's by default, configurable in `roadmap:`, each shown with the link its requester
attached or ❌; attaching never resets approvals. And `gate status` warns like the portfolio:
no sponsor from PoC on, over its hard limit until a decision is taken."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from launchops.chat.commands import Asker, ChatCore
from launchops.config import load_config
from launchops.config.models import DEFAULT_DELIVERABLES, deliverable_id
from launchops.domain.errors import BadCommand, Forbidden, InvalidTransition
from launchops.messages import gate_views
from launchops.services.directory import DirectoryCache
from launchops.services.gates import GateService
from launchops.services.incidents import IncidentService
from launchops.services.ownership import OwnershipService
from launchops.services.people import PeopleService
from launchops.services.roadmap import RoadmapService
from tests.conftest import CONFIG_DIR
from tests.services.gate_support import (
    Clock,
    actor,
    audit_actions,
    decisions,
    dms,
    requests,
    service,
    sync,
)

PILOT = (
    "results-report",
    "satisfaction-survey",
    "running-cost-analysis",
    "production-migration-plan",
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gates(engine: Engine, clock: Clock) -> GateService:
    sync(engine)
    return service(engine, clock)


def chat_of(engine: Engine, gates: GateService) -> ChatCore:
    ownership = OwnershipService(engine)
    return ChatCore(
        people=PeopleService(engine, DirectoryCache(engine, check_every=0)),
        ownership=ownership,
        incidents=IncidentService(engine, platforms=("console",), index=ownership.index),
        gates=gates,
    )


def console(person: str) -> Asker:
    return Asker(platform="console", user_ids=(person,))


def deliverable_lines(text: str) -> list[str]:
    _, _, tail = text.partition("Deliverables of ")
    return tail.splitlines()[1:]


def test_the_guides_deliverables_per_stage_are_the_defaults() -> None:
    ids = {
        stage: tuple(map(deliverable_id, names)) for stage, names in DEFAULT_DELIVERABLES.items()
    }
    assert ids == {
        "explore": ("candidate-use-cases", "priority-matrix", "selected-use-case-and-rationale"),
        "poc": (
            "technical-validation-report",
            "demo-able-prototype",
            "quality-results",
            "pilot-proposal",
        ),
        "pilot": PILOT,
        "production": ("dashboard", "runbook", "incident-playbook", "monthly-report"),
    }
    assert load_config(CONFIG_DIR).policy.roadmap["pilot"].deliverables is None  # the guide's


def test_a_request_lists_the_left_stages_deliverables_each_with_a_cross(
    engine: Engine, gates: GateService
) -> None:
    requested = gates.request("support-assistant", "production", actor(engine, "U0ALICE"))
    items = [i for i in requested.gate.evidence if i.kind == "deliverable"]
    assert [i.key for i in items] == [f"deliverable.{d}" for d in PILOT]
    assert all(i.ok is None for i in items)
    card = gate_views.summary_card(requested.gate, "en").card
    assert card is not None
    assert "Deliverables of Pilot" in card.text
    assert deliverable_lines(card.text) == [
        "❌ Results report",
        "❌ Satisfaction survey",
        "❌ Running-cost analysis",
        "❌ Production migration plan",
    ]
    # Every approver's direct message carries the same list.
    asked = dms(engine)
    texts = {m.locale: m.payload["card"]["text"] for m in asked}
    assert "❌ Running-cost analysis" in texts["en"] and "❌ 운영 비용 분석" in texts["ko"]
    korean = gate_views.summary_card(requested.gate, "ko").card
    assert korean is not None and "❌ 운영 비용 분석" in korean.text


def test_attaching_a_link_shows_it_and_never_resets_approvals(
    engine: Engine, gates: GateService
) -> None:
    chat = chat_of(engine, gates)
    assert chat.answer("gate request support-assistant production", console("alice")).error is None
    assert chat.answer("gate approve 1", console("dan")).error is None
    version = requests(engine)[0].evidence_version
    done = chat.answer(
        "gate attest 1 results-report yes <https://wiki.example/pilot-results>", console("alice")
    )
    assert done.error is None
    assert "✅ Results report: https://wiki.example/pilot-results (alice)" in done.reply.text
    # A key written in full works too, and `no` takes the link back (❌ again).
    chat.answer(
        "gate attest 1 deliverable.satisfaction-survey yes https://forms.example/s",
        console("alice"),
    )
    chat.answer("gate attest 1 satisfaction-survey no", console("alice"))
    [request] = requests(engine)
    assert request.evidence_version == version  # attaching changes no evidence version
    assert [d.person_id for d in decisions(engine)] == ["dan"]
    status = chat.answer("gate status support-assistant", console("bob")).reply
    assert status.card is not None
    evidence = next(f.value for f in status.card.fields if f.label == "Evidence")
    assert deliverable_lines(evidence) == [
        "✅ Results report: https://wiki.example/pilot-results (alice)",
        "❌ Satisfaction survey",
        "❌ Running-cost analysis",
        "❌ Production migration plan",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "gate attest 1 results-report yes",
        "gate attest 1 results-report yes see the wiki",
        "gate attest 1 results-report yes ftp://files.example/r",
        "gate attest 1 results-report yes javascript:alert(1)",
        "gate attest 1 results-report yes https://",
        f"gate attest 1 results-report yes https://wiki.example/{'x' * 500}",
    ],
)
def test_a_deliverable_needs_an_http_link(engine: Engine, gates: GateService, text: str) -> None:
    chat = chat_of(engine, gates)
    chat.answer("gate request support-assistant production", console("alice"))
    refused = chat.answer(text, console("alice"))
    assert refused.error is not None and refused.error.key == "gate.error.deliverable_link"
    assert "gate.attested" not in audit_actions(engine)


def test_only_the_left_stages_deliverables_can_be_attached(
    engine: Engine, gates: GateService
) -> None:
    gate = gates.request("support-assistant", "production", actor(engine, "U0ALICE")).gate.id
    with pytest.raises(BadCommand) as refused:
        gates.attest(gate, "priority-matrix", True, actor(engine, "U0ALICE"), value="https://x.io")
    assert refused.value.key == "gate.error.unknown_item"
    with pytest.raises(Forbidden):
        gates.attest(gate, "results-report", True, actor(engine, "U0BOB"), value="https://x.io")
    gates.decide(gate, "reject", actor(engine, "U0DAN"), reason="not yet")
    with pytest.raises(InvalidTransition):
        gates.attest(gate, "results-report", True, actor(engine, "U0ALICE"), value="https://x.io")
    assert "gate.attested" not in audit_actions(engine)


def test_configured_deliverables_replace_the_guides(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    target = tmp_path / "config"
    target.mkdir()
    (target / "catalog.yaml").write_text((CONFIG_DIR / "catalog.yaml").read_text())
    policy = (CONFIG_DIR / "policy.yaml").read_text()
    line = "pilot:   {timebox: 8w, limit: 90d}"
    assert line in policy
    custom = "pilot:   {timebox: 8w, limit: 90d, deliverables: [Load-test results, 사용자 인터뷰]}"
    (target / "policy.yaml").write_text(policy.replace(line, custom))
    sync(engine, target)
    gates = service(engine, clock)
    chat = chat_of(engine, gates)
    assert chat.answer("gate request support-assistant production", console("alice")).error is None
    done = chat.answer(
        "gate attest 1 load-test-results yes https://ci.example/42", console("alice")
    )
    assert done.error is None, done.error
    view = gates.status("support-assistant").open
    assert view is not None
    text = gate_views.evidence_text(view.evidence, "en", view.from_stage)
    assert deliverable_lines(text) == [
        "✅ Load test results: https://ci.example/42 (alice)",
        "❌ 사용자 인터뷰",
    ]


def test_gate_status_flags_a_project_without_a_sponsor_and_one_over_its_limit(
    engine: Engine, gates: GateService, clock: Clock
) -> None:
    chat = chat_of(engine, gates)
    # ticket-summarizer is in PoC with no sponsor: flagged like in the portfolio.
    poc = chat.answer("gate status ticket-summarizer", console("bob")).reply.text
    assert poc.splitlines()[:2] == ["stage: poc", "⚠️ no sponsor"]
    # support-assistant entered Pilot on 2026-10-01; its hard limit (90 days) is 2026-12-30.
    pilot = chat.answer("gate status support-assistant", console("bob")).reply.text
    assert "⚠️" not in pilot
    clock.now = datetime(2027, 1, 2, tzinfo=UTC)
    over = chat.answer("gate status support-assistant", console("bob")).reply.text
    assert over.splitlines()[:2] == ["stage: pilot", "⚠️ over its hard limit"]
    # A decision (here: the sponsor stops it) ends the warning.
    directory = DirectoryCache(engine, check_every=0)
    roadmap = RoadmapService(
        engine, gates=gates, platforms=("slack",), directory=directory, clock=clock
    )
    roadmap.stop("support-assistant", "budget moved to search", actor(engine, "U0DAN"))
    stopped = chat.answer("gate status support-assistant", console("bob")).reply.text
    assert stopped.splitlines()[1] == "⚠️ stopped"
