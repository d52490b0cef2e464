"""Which answers are questions (nothing committed, so answered in the request itself) and
which are decisions (committed with outbox rows first): DESIGN.md §5, issue 8 item 1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from launchops.chat.commands import Asker, ChatCore
from launchops.config import load_config
from launchops.services.config_sync import sync_config
from launchops.services.incidents import IncidentService
from launchops.services.ownership import OwnershipService
from launchops.services.people import PeopleService
from launchops.store import make_engine
from tests.conftest import CONFIG_DIR

CAROL = Asker(platform="console", user_ids=("carol",))


@pytest.fixture
def chat(sqlite_url: str) -> Iterator[ChatCore]:
    engine: Engine = make_engine(sqlite_url)
    sync_config(engine, load_config(CONFIG_DIR), source="config", actor="test")
    ownership = OwnershipService(engine)
    incidents = IncidentService(engine, platforms=("console",), index=ownership.index)
    yield ChatCore(people=PeopleService(engine), ownership=ownership, incidents=incidents)
    engine.dispose()


@pytest.mark.parametrize(
    "text",
    [
        "help",
        "who owns rag",
        "owns Data team",
        "incident",  # the form
        "incident status",
        "who owns retreiver",  # not found
        "incident p9 rag: bad level",  # usage
        "incident ack 42",  # refused: no such incident
        "gibberish words",
    ],
)
def test_questions_and_refusals(chat: ChatCore, text: str) -> None:
    assert chat.answer(text, CAROL).is_question


def test_decisions_are_not_questions_but_a_status_after_them_is(chat: ChatCore) -> None:
    declared = chat.answer("incident p2 rag: answers are slow", CAROL)
    assert declared.error is None and not declared.is_question
    assert chat.answer("incident status 1", CAROL).is_question
    assert chat.answer("incident severity 1", CAROL).is_question  # the choices
    acknowledged = chat.answer("incident ack 1", CAROL)
    assert acknowledged.error is None and not acknowledged.is_question
