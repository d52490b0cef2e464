"""`projects`, `failure` and `digest` in chat, and the roadmap buttons through ChatCore: the
grammar, which answers are questions (nothing written), and what a bad input is told."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import select

from launchops.chat.commands import Asker, ChatCore
from launchops.chat.grammar import (
    Command,
    Digest,
    Projects,
    RecordFailure,
    RoadmapDecision,
    parse,
)
from launchops.chat.roadmap_chat import RoadmapChat
from launchops.domain.errors import BadCommand
from launchops.domain.roadmap import ClockRef
from launchops.messages.i18n import t
from launchops.services.digest import DigestService
from launchops.services.directory import DirectoryCache
from launchops.services.failures import FailureService
from launchops.services.gates import GateService
from launchops.services.ownership import OwnershipService
from launchops.services.people import PeopleService
from launchops.services.portfolio import Portfolio
from launchops.services.roadmap import RoadmapService
from launchops.store import make_engine, session_scope
from launchops.store.feedback_models import FailureCase
from launchops.store.roadmap_models import ProjectStop, StageExtension
from tests.services.gate_support import Clock, sync


def console(person: str) -> Asker:
    return Asker(platform="console", user_ids=(person,))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("projects", Projects()),
        ("/launchops Projects PoC", Projects("poc")),
        ("projects team ml", Projects(None, "ml")),
        ("projects pilot team ml", Projects("pilot", "ml")),
        (
            "failure rag: answers cite the wrong doc",
            RecordFailure("rag", "answers cite the wrong doc"),
        ),
        ("FAILURE search index:  slow:  very", RecordFailure("search index", "slow:  very")),
        ("digest", Digest()),
        ("Digest", Digest()),
    ],
)
def test_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("projects poc pilot", "chat.projects.usage"),
        ("projects team", "chat.projects.usage"),
        ("failure", "chat.failure.usage"),
        ("failure rag answers are wrong", "chat.failure.usage"),
        ("failure : no component", "chat.failure.usage"),
        ("failure rag:   ", "chat.failure.empty"),
        ("failure rag: " + "x" * 2001, "chat.failure.too_long"),
        ("digest ml", "chat.digest.usage"),
    ],
)
def test_usage(text: str, key: str) -> None:
    with pytest.raises(BadCommand) as refused:
        parse(text)
    assert refused.value.key == key


@given(st.text(max_size=80))
def test_any_text_after_the_new_keywords_parses_or_raises_a_typed_error(rest: str) -> None:
    for word in ("projects", "failure", "digest"):
        try:
            command = parse(f"{word} {rest}")
        except BadCommand:
            continue
        assert isinstance(command, Projects | RecordFailure | Digest)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    sync(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def chat(engine: Engine, clock: Clock) -> ChatCore:
    directory = DirectoryCache(engine, check_every=0)
    ownership = OwnershipService(engine)
    gates = GateService(engine, platforms=("console",), directory=directory, clock=clock)
    roadmap = RoadmapService(
        engine, gates=gates, platforms=("console",), directory=directory, clock=clock
    )
    return ChatCore(
        people=PeopleService(engine, directory),
        ownership=ownership,
        gates=gates,
        roadmap=RoadmapChat(
            roadmap=roadmap,
            portfolio=Portfolio(engine, directory, clock),
            failures=FailureService(engine, ownership.index, clock),
            digests=DigestService(engine, platforms=("console",), clock=clock),
        ),
    )


def _cases(engine: Engine) -> list[FailureCase]:
    with session_scope(engine) as session:
        return list(session.exec(select(FailureCase)).all())


def test_projects_is_a_question_listing_the_example_organisation(chat: ChatCore) -> None:
    answer = chat.answer("projects", console("carol"))
    assert answer.error is None and answer.is_question and answer.reply.private
    assert "Support assistant" in answer.reply.text and "Ticket summarizer" in answer.reply.text
    assert t("roadmap.flag.no_sponsor", "en") in answer.reply.text  # the PoC has no sponsor
    only_poc = chat.answer("projects poc", console("carol")).reply.text
    assert "Ticket summarizer" in only_poc and "Support assistant" not in only_poc
    korean = chat.answer("projects", console("minjun")).reply.text
    assert t("roadmap.flag.no_sponsor", "ko") in korean


def test_projects_with_an_unknown_stage_or_team_says_which(chat: ChatCore) -> None:
    answer = chat.answer("projects pilott", console("carol"))
    assert answer.error is not None and answer.is_question
    assert "pilott" in answer.reply.text
    assert "nowhere" in chat.answer("projects team nowhere", console("carol")).reply.text


def test_failure_records_a_masked_case_by_that_person(chat: ChatCore, engine: Engine) -> None:
    answer = chat.answer(
        "failure rag: answers cite the wrong doc, mail me at kim@example.com", console("carol")
    )
    assert answer.error is None and not answer.is_question
    assert "kim@example.com" not in answer.reply.text
    assert "answers cite the wrong doc" in answer.reply.text
    [case] = _cases(engine)
    assert case.component_id == "retriever" and case.person_id == "carol"
    assert case.source == "chat" and "kim@example.com" not in case.summary


def test_a_retried_failure_request_is_stored_once(chat: ChatCore, engine: Engine) -> None:
    asker = Asker(platform="slack", user_ids=("U0CAROL",), request_key="slack:trigger:1.2.3")
    first = chat.answer("failure rag: stale index", asker)
    again = chat.answer("failure rag: stale index", asker)
    assert first.error is None and again.reply.text == first.reply.text
    other = Asker(platform="slack", user_ids=("U0CAROL",), request_key="slack:trigger:4.5.6")
    chat.answer("failure rag: stale index", other)
    assert len(_cases(engine)) == 2


def test_failure_for_an_unknown_component_suggests_and_writes_nothing(
    chat: ChatCore, engine: Engine
) -> None:
    answer = chat.answer("failure retreiver: wrong answers", console("carol"))
    assert answer.error is not None and answer.is_question
    assert "retreiver" in answer.reply.text and "retriever" in answer.reply.text
    assert _cases(engine) == []
    empty = chat.answer("failure rag:", console("carol"))
    assert empty.error is not None and empty.error.key == "chat.failure.empty"
    assert _cases(engine) == []


def test_digest_is_the_askers_team_privately(chat: ChatCore) -> None:
    answer = chat.answer("digest", console("carol"))
    assert answer.error is None and answer.is_question and answer.reply.private
    assert "Data" in answer.reply.text or "data" in answer.reply.text


def test_digest_for_someone_in_no_team_or_unknown(chat: ChatCore) -> None:
    nobody = chat.answer("digest", console("someone-unknown"))
    assert nobody.reply.text == t("chat.digest.unknown_person", "en")


def test_roadmap_buttons_through_the_chat_core(
    chat: ChatCore, engine: Engine, clock: Clock
) -> None:
    value = ClockRef("ticket-summarizer", "poc", 1).value()
    # bob owns it; carol is neither owner nor sponsor: refused before any form, nothing written
    refusal = chat.roadmap_refusal("roadmap_stop", value, console("carol"))
    assert refusal is not None and "Bob Lee" in refusal.reply.text
    assert chat.roadmap_refusal("roadmap_stop", value, console("bob")) is None
    forged = chat.roadmap_refusal("roadmap_extend", "support-assistant:poc:1", console("bob"))
    assert forged is not None and forged.error is not None
    no_reason = chat.answer(RoadmapDecision("extend", value, "2w", " "), console("bob"))
    assert no_reason.error is not None and no_reason.error.key == "roadmap.error.reason.extend"
    extended = chat.answer(RoadmapDecision("extend", value, "2w", "more data"), console("bob"))
    assert extended.error is None and not extended.is_question
    assert "Ticket summarizer" in extended.reply.text
    stopped = chat.answer(
        RoadmapDecision("stop", ClockRef("ticket-summarizer", "poc", 2).value(), None, "no"),
        console("bob"),
    )
    assert stopped.error is None, stopped.reply.text
    with session_scope(engine) as session:
        assert len(session.exec(select(StageExtension)).all()) == 1
        assert session.get(ProjectStop, "ticket-summarizer") is not None
