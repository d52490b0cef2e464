"""`gate comment` and `gate attest` in chat, and a button's evidence version on `DecideGate`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from launchops.chat.commands import Asker, ChatCore, evidence_key
from launchops.chat.grammar import AttestGate, Command, CommentGate, DecideGate, parse
from launchops.domain.errors import BadCommand
from launchops.services.directory import DirectoryCache
from launchops.services.gates import MAX_COMMENT_CHARS, GateService
from launchops.services.incidents import IncidentService
from launchops.services.ownership import OwnershipService
from launchops.services.people import PeopleService
from launchops.store import make_engine, session_scope
from launchops.store.models import AuditEntry
from tests.services.gate_support import Clock, audit_actions, decisions, sync


def console(person: str, key: str | None = None) -> Asker:
    return Asker(platform="console", user_ids=(person,), request_key=key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "gate comment 3 the dashboard is in the wiki",
            CommentGate(3, "the dashboard is in the wiki"),
        ),
        ("gate comment #3   spaced  ", CommentGate(3, "spaced")),
        ("gate attest 1 launch.rollback yes", AttestGate(1, "launch.rollback", True)),
        ("gate attest 1 Rollback NO", AttestGate(1, "rollback", False)),
        (
            "gate attest 1 dashboard yes https://grafana.example/d/1  now",
            AttestGate(1, "dashboard", True, "https://grafana.example/d/1 now"),
        ),
    ],
)
def test_comment_and_attest_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("gate comment 3", "gate.error.comment_required"),
        ("gate comment x hello", "gate.usage"),
        ("gate attest 1 rollback", "gate.usage_attest"),
        ("gate attest 1 rollback maybe", "gate.usage_attest"),
        ("gate attest x rollback yes", "gate.usage"),
    ],
)
def test_comment_and_attest_usage(text: str, key: str) -> None:
    with pytest.raises(BadCommand) as refused:
        parse(text)
    assert refused.value.key == key


def test_evidence_keys_by_their_last_part() -> None:
    assert evidence_key("rollback") == "launch.rollback"
    assert evidence_key("failure_rate") == "production.failure_rate"
    assert evidence_key("launch.pii_policy") == "launch.pii_policy"
    assert evidence_key("nonsense") == "nonsense"


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    sync(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def chat(engine: Engine) -> ChatCore:
    directory = DirectoryCache(engine, check_every=0)
    ownership = OwnershipService(engine)
    gates = GateService(engine, platforms=("console",), directory=directory, clock=Clock())
    return ChatCore(
        people=PeopleService(engine, directory),
        ownership=ownership,
        incidents=IncidentService(engine, platforms=("console",), index=ownership.index),
        gates=gates,
    )


def comments(engine: Engine) -> list[AuditEntry]:
    with session_scope(engine) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        return [r for r in rows if r.action == "gate.commented"]


def test_comments_by_requester_and_approvers_masked_once_per_request(
    chat: ChatCore, engine: Engine
) -> None:
    assert chat.answer("gate request support-assistant production", console("alice")).error is None
    mine = chat.answer(
        "gate comment 1 call me on 010-1234-5678",
        console("alice"),
    )
    assert mine.error is None and not mine.is_question
    assert "comment on gate #1 is recorded" in mine.reply.text
    assert chat.answer("gate comment 1 looks fine", console("dan", "k1")).error is None
    again = chat.answer("gate comment 1 looks fine", console("dan", "k1"))
    assert again.error is None
    rows = comments(engine)
    assert [(r.subject, r.detail["person"]) for r in rows] == [
        ("gate:1", "alice"),
        ("gate:1", "dan"),
    ]
    assert "010-1234-5678" not in rows[0].detail["text"] and "[phone]" in rows[0].detail["text"]
    status = chat.answer("gate status support-assistant", console("bob")).reply.text
    assert "Latest comments:" in status and "Dan Rivera: looks fine" in status
    assert "Alice Kim: call me on [phone]" in status and "010" not in status


def test_comments_refused_for_outsiders_unknown_gates_and_huge_texts(
    chat: ChatCore, engine: Engine
) -> None:
    chat.answer("gate request support-assistant production", console("alice"))
    outsider = chat.answer("gate comment 1 hello", console("bob"))
    assert outsider.error is not None and outsider.error.key == "gate.error.not_commenter"
    missing = chat.answer("gate comment 99 hello", console("dan"))
    assert missing.error is not None and missing.error.key == "gate.error.not_found"
    huge = chat.answer(f"gate comment 1 {'x' * (MAX_COMMENT_CHARS + 1)}", console("dan"))
    assert huge.error is not None and huge.error.key == "gate.error.comment_too_long"
    assert comments(engine) == []


def test_attest_by_the_requester_only(chat: ChatCore, engine: Engine) -> None:
    chat.answer("gate request support-assistant production", console("alice"))
    done = chat.answer("gate attest 1 rollback yes https://wiki.example/rollback", console("alice"))
    assert done.error is None and "A rollback procedure" in done.reply.text
    refused = chat.answer("gate attest 1 rollback yes", console("frank"))
    assert refused.error is not None and refused.error.key == "gate.error.not_requester"
    unknown = chat.answer("gate attest 1 moonshot yes", console("alice"))
    assert unknown.error is not None and unknown.error.key == "gate.error.unknown_item"
    assert audit_actions(engine).count("gate.attested") == 1
    status = chat.answer("gate status support-assistant", console("bob")).reply
    assert status.card is not None
    assert "https://wiki.example/rollback" in " ".join(f.value for f in status.card.fields)


def test_a_decision_carries_the_buttons_evidence_version(chat: ChatCore, engine: Engine) -> None:
    chat.answer("gate request support-assistant production", console("alice"))
    forged = chat.answer(DecideGate(1, "approve", evidence_version=7), console("dan"))
    assert forged.error is not None and forged.error.key == "gate.error.bad_version"
    assert decisions(engine) == []
    assert chat.answer(DecideGate(1, "approve", evidence_version=1), console("dan")).error is None
    assert [d.person_id for d in decisions(engine)] == ["dan"]
