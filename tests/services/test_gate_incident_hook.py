"""The wiring main.py does: a P1 declared through chat on one of a project's components, while
its gate is open, is new evidence at the declaration's commit (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from launchops.chat.commands import Asker
from launchops.main import AppContext, build_context, prepare_store
from launchops.settings import Settings
from launchops.store.gate_models import EvidenceChange, GateRequest
from tests.conftest import CONFIG_DIR


@pytest.fixture
def ctx(db_url: str, tmp_path: Path) -> Iterator[AppContext]:
    settings = Settings(
        _env_file=None,
        LAUNCHOPS_DATABASE_URL=db_url,  # type: ignore[call-arg]
        LAUNCHOPS_CONFIG_DIR=str(CONFIG_DIR),
    )
    prepare_store(settings, actor="test")
    context = build_context(settings, with_chat_adapters=False)
    yield context
    context.close()


def say(ctx: AppContext, person: str, text: str) -> str:
    answer = ctx.chat.answer(text, Asker(platform="console", user_ids=(person,)))
    assert answer.error is None, answer.reply.text
    return answer.reply.text


def test_a_p1_mid_vote_through_chat_makes_earlier_approvals_stale(ctx: AppContext) -> None:
    say(ctx, "alice", "gate request support-assistant production")
    say(ctx, "grace", "gate approve 1")  # business, on evidence v1
    say(ctx, "carol", "incident p1 retriever: empty answers")  # a project component
    with Session(ctx.engine) as session:
        gate = session.exec(select(GateRequest)).one()
        assert gate.evidence_version == 2
        [change] = session.exec(select(EvidenceChange)).all()
        assert "INC-1" in change.reason and "Retriever" in change.reason
    for person in ("dan", "erin", "frank"):
        say(ctx, person, "gate approve 1")
    status = say(ctx, "bob", "gate status support-assistant")
    assert status.splitlines()[0] == "stage: pilot"  # Grace's v1 approval no longer counts
    passed = say(ctx, "grace", "gate approve 1")
    assert "now in Production" in passed


def test_a_p3_or_an_unrelated_component_changes_nothing(ctx: AppContext) -> None:
    say(ctx, "alice", "gate request ticket-summarizer pilot")
    say(ctx, "carol", "incident p3 retriever: typo in a snippet")  # minor
    say(ctx, "henry", "incident p1 inference-gateway: slow")  # not a ticket-summarizer part
    with Session(ctx.engine) as session:
        assert session.exec(select(GateRequest)).one().evidence_version == 1
