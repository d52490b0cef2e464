"""Extend, stop and request gate from a nudge: who may, what is recorded, and that every
refusal (no reason, not owner or sponsor, forged or stale button) changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from launchops.config import load_config
from launchops.domain.errors import (
    BadCommand,
    NotOwnerOrSponsor,
    ProjectStopped,
    ReasonRequired,
    SponsorRequired,
    StaleButton,
)
from launchops.services.config_sync import sync_config
from launchops.store import session_scope
from launchops.store.gate_models import GateRequest
from launchops.store.models import AuditEntry
from launchops.store.roadmap_models import ProjectStop, StageExtension
from tests.services.roadmap_support import (
    OWNER,
    POC_BUTTON,
    SPONSOR,
    STRANGER,
    Clock,
    actor,
    fast_roadmap,
    roadmap_messages,
    services,
)


@pytest.fixture
def clock(engine: Engine, tmp_path: Path) -> Clock:
    directory = fast_roadmap(tmp_path)
    sync_config(engine, load_config(directory), source=str(directory), actor="test")
    return Clock()  # after the sync, which starts the stage clocks at the real time


def _state(engine: Engine) -> tuple[int, int, int, int]:
    with session_scope(engine) as session:
        return (
            len(session.exec(select(StageExtension)).all()),
            len(session.exec(select(ProjectStop)).all()),
            len(session.exec(select(GateRequest)).all()),
            len(
                session.exec(
                    select(AuditEntry).where(col(AuditEntry.action).startswith("roadmap."))
                ).all()
            ),
        )


def test_owner_extends_once_then_only_the_sponsor(engine: Engine, clock: Clock) -> None:
    roadmap, _nudger, _gates = services(engine, clock)
    first = roadmap.extend(
        "", "30s", "demo slipped a week", actor(engine, OWNER), button=POC_BUTTON
    )
    assert (first.version, first.by_sponsor) == (2, False)
    assert roadmap.clock("ticket-summarizer").due_at == first.due_at
    before = _state(engine)
    with pytest.raises(SponsorRequired) as refused:
        roadmap.extend("ticket-summarizer", "40s", "one more", actor(engine, OWNER))
    assert refused.value.params["sponsor"] == "Dan Rivera"
    assert _state(engine) == before
    by_sponsor = roadmap.extend(
        "", "1d", "worth it", actor(engine, SPONSOR), button="ticket-summarizer:poc:2"
    )
    assert by_sponsor.by_sponsor and by_sponsor.version == 3
    # The sponsor carried it past the hard limit: the limit moved with it.
    assert roadmap.clock("ticket-summarizer").limit_at == by_sponsor.due_at
    notes = [m for m in roadmap_messages(engine) if ":ext:" in (m.dedupe_key or "")]
    assert [m.destination for m in notes] == [
        {"channel": "C0MLTEAM"},
        {"user": "U0DAN"},  # the sponsor hears of the owner's extension directly
        {"channel": "C0MLTEAM"},
    ]
    assert "demo slipped a week" in notes[1].payload["text"]


def test_owner_may_not_extend_past_the_hard_limit(engine: Engine, clock: Clock) -> None:
    roadmap, _nudger, _gates = services(engine, clock)
    with pytest.raises(SponsorRequired) as refused:
        roadmap.extend("ticket-summarizer", "1d", "need time", actor(engine, OWNER))
    assert refused.value.key == "roadmap.error.past_limit"
    assert _state(engine) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("who", "when", "reason", "button", "error"),
    [
        (OWNER, "30s", "  ", POC_BUTTON, ReasonRequired),
        (STRANGER, "30s", "because", POC_BUTTON, NotOwnerOrSponsor),
        (OWNER, "30s", "because", "support-assistant:pilot:1", NotOwnerOrSponsor),
        (OWNER, "30s", "because", "ticket-summarizer:pilot:1", StaleButton),
        (OWNER, "30s", "because", "ticket-summarizer:poc:2", StaleButton),
        (OWNER, "30s", "because", "no-such-project:poc:1", StaleButton),
        (OWNER, "30s", "because", "ticket-summarizer:poc:１", BadCommand),
        (OWNER, "30s", "because", "garbage", BadCommand),
        (OWNER, "soon", "because", POC_BUTTON, BadCommand),
        (OWNER, "2020-01-01", "because", POC_BUTTON, BadCommand),
    ],
)
def test_bad_extensions_change_nothing(
    engine: Engine, clock: Clock, who: str, when: str, reason: str, button: str, error: type
) -> None:
    roadmap, _nudger, _gates = services(engine, clock)
    with pytest.raises(error):
        roadmap.extend("", when, reason, actor(engine, who), button=button)
    assert _state(engine) == (0, 0, 0, 0)
    assert roadmap_messages(engine) == []


def test_stop_by_owner_is_announced_once_and_kept(engine: Engine, clock: Clock) -> None:
    roadmap, _nudger, _gates = services(engine, clock)
    with pytest.raises(NotOwnerOrSponsor):
        roadmap.stop("", "meh", actor(engine, STRANGER), button=POC_BUTTON)
    with pytest.raises(ReasonRequired):
        roadmap.stop("", "", actor(engine, OWNER), button=POC_BUTTON)
    assert _state(engine) == (0, 0, 0, 0)
    stopped = roadmap.stop(
        "", "the model cannot read scans", actor(engine, OWNER), button=POC_BUTTON
    )
    assert (stopped.stage, stopped.reason) == ("poc", "the model cannot read scans")
    with pytest.raises(ProjectStopped):
        roadmap.stop("", "again", actor(engine, SPONSOR), button=POC_BUTTON)
    with pytest.raises(ProjectStopped):
        roadmap.extend("ticket-summarizer", "30s", "revive", actor(engine, SPONSOR))
    with pytest.raises(ProjectStopped):
        roadmap.request_gate(POC_BUTTON, actor(engine, OWNER))
    announced = [m for m in roadmap_messages(engine) if m.dedupe_key and ":stop:" in m.dedupe_key]
    assert len(announced) == 1 and "the model cannot read scans" in announced[0].payload["text"]
    assert _state(engine)[:2] == (0, 1)


def test_request_gate_opens_the_next_stage_gate(engine: Engine, clock: Clock) -> None:
    roadmap, _nudger, _gates = services(engine, clock)
    with pytest.raises(StaleButton):
        roadmap.request_gate("ticket-summarizer:pilot:1", actor(engine, OWNER))
    requested = roadmap.request_gate(POC_BUTTON, actor(engine, OWNER), request_key="click-1")
    assert requested.created and requested.gate.to_stage == "pilot"
    again = roadmap.request_gate(POC_BUTTON, actor(engine, OWNER), request_key="click-1")
    assert not again.created
    assert _state(engine)[2] == 1


def test_check_refuses_before_a_form_opens(engine: Engine, clock: Clock) -> None:
    roadmap, _nudger, _gates = services(engine, clock)
    assert roadmap.check("roadmap_extend", POC_BUTTON, actor(engine, SPONSOR)).version == 1
    with pytest.raises(NotOwnerOrSponsor):
        roadmap.check("roadmap_stop", POC_BUTTON, actor(engine, STRANGER))
    with pytest.raises(StaleButton):
        roadmap.check("roadmap_other", POC_BUTTON, actor(engine, OWNER))
    assert _state(engine) == (0, 0, 0, 0)
