"""`gate …` in chat: the grammar, and the ChatCore answers (the console speaks as people)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from launchops.chat.commands import Asker, ChatCore
from launchops.chat.grammar import (
    AttestGate,
    Command,
    CommentGate,
    DecideGate,
    GateStatus,
    RequestGate,
    parse,
)
from launchops.domain.errors import BadCommand
from launchops.services.directory import DirectoryCache
from launchops.services.gates import GateService
from launchops.services.incidents import IncidentService
from launchops.services.ownership import OwnershipService
from launchops.services.people import PeopleService
from launchops.store import make_engine
from tests.services.gate_support import Clock, requests, sync


def console(person: str) -> Asker:
    return Asker(platform="console", user_ids=(person,))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "gate request support-assistant production",
            RequestGate("support-assistant", "production"),
        ),
        (
            "/gate request Support assistant Production",
            RequestGate("Support assistant", "production"),
        ),
        ("gate status support-assistant", GateStatus("support-assistant")),
        ("GATE approve 7", DecideGate(7, "approve")),
        ("gate approve #7", DecideGate(7, "approve")),
        ("gate reject gate-7  no   rollback plan", DecideGate(7, "reject", "no rollback plan")),
        ("gate reject 7", DecideGate(7, "reject")),  # the service asks for the reason
    ],
)
def test_gate_commands_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["gate", "gate request", "gate request production", "gate status", "gate approve x", "gate go"],
)
def test_gate_usage(text: str) -> None:
    with pytest.raises(BadCommand) as refused:
        parse(text)
    assert refused.value.key == "gate.usage"


@given(st.text(max_size=80))
def test_any_gate_text_parses_or_raises_a_typed_error(rest: str) -> None:
    try:
        command = parse(f"gate {rest}")
    except BadCommand:
        return
    assert isinstance(command, RequestGate | GateStatus | DecideGate | CommentGate | AttestGate)


@pytest.fixture
def chat(sqlite_url: str) -> Iterator[ChatCore]:
    engine: Engine = make_engine(sqlite_url)
    sync(engine)
    directory = DirectoryCache(engine, check_every=0)
    ownership = OwnershipService(engine)
    gates = GateService(engine, platforms=("console",), directory=directory, clock=Clock())
    yield ChatCore(
        people=PeopleService(engine, directory),
        ownership=ownership,
        incidents=IncidentService(engine, platforms=("console",), index=ownership.index),
        gates=gates,
    )
    engine.dispose()


def test_a_gate_through_chat_from_request_to_production(chat: ChatCore) -> None:
    before = chat.answer("gate status support-assistant", console("bob"))
    assert before.is_question and before.error is None
    assert "stage: pilot" in before.reply.text and "requested:" not in before.reply.text

    requested = chat.answer("gate request support-assistant production", console("alice"))
    assert requested.error is None and not requested.is_question
    assert "Dan Rivera" in requested.reply.text

    status = chat.answer("gate status Support assistant", console("bob"))
    assert status.is_question
    assert "stage: pilot" in status.reply.text
    assert "requested: production" in status.reply.text
    assert "stage: production" not in status.reply.text

    refused = chat.answer("gate reject 1", console("erin"))
    assert refused.error is not None and refused.error.key == "gate.error.reason_required"
    assert refused.is_question
    for person in ("dan", "erin", "frank"):
        assert chat.answer("gate approve 1", console(person)).error is None
    passed = chat.answer("gate approve 1", console("grace"))
    assert passed.error is None and "now in Production" in passed.reply.text

    after = chat.answer("gate status support-assistant", console("bob")).reply.text
    assert after.splitlines()[0] == "stage: production"
    assert "pilot → production" in after and "stage: pilot" not in after
    assert "Grace Hopper approved on evidence v1" in after


def test_a_korean_reader_gets_korean_gate_texts(chat: ChatCore) -> None:
    chat.answer("gate request support-assistant production", console("alice"))
    status = chat.answer("gate status support-assistant", console("minjun")).reply.text
    assert status.startswith("stage: pilot")
    assert "requested: production" in status and "진행 중" in status
    refused = chat.answer("gate approve 1", console("minjun"))
    assert refused.error is not None and "구성원만" in refused.reply.text


def test_refusals_write_nothing(chat: ChatCore, sqlite_url: str) -> None:
    for text, person in [
        ("gate request nowhere production", "alice"),
        ("gate request support-assistant moonshot", "alice"),
        ("gate request support-assistant scale", "alice"),
        ("gate request support-assistant production", "bob"),
        ("gate approve 99", "dan"),
    ]:
        answer = chat.answer(text, console(person))
        assert answer.error is not None and answer.is_question, text
        assert answer.error.key.startswith("gate.error."), (text, answer.error.key)
    engine = make_engine(sqlite_url)
    assert requests(engine) == []
    engine.dispose()


def test_help_names_the_gate_commands(chat: ChatCore) -> None:
    overview = chat.answer("help", console("bob")).reply
    assert overview.card is not None and "gate request" in (overview.card.text or "")
    topic = chat.answer("help gates", console("bob")).reply
    assert topic.card is not None and topic.card.title == "Help — stage gates"
    assert "게이트" in chat.answer("help 게이트", console("minjun")).reply.text


def test_the_scheduler_sweeps_gates_every_second(sqlite_url: str) -> None:
    from launchops.scheduler import GATE_SWEEP_SECONDS, build_scheduler

    engine = make_engine(sqlite_url)
    gates = GateService(engine, platforms=("console",), directory=DirectoryCache(engine))
    job = build_scheduler(None, None, gates=gates).get_job("gate-sweep")
    assert job is not None and job.func == gates.sweep
    assert job.trigger.interval.total_seconds() == GATE_SWEEP_SECONDS <= 10
    engine.dispose()
