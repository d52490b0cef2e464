"""`launchops serve` answers a few questions in-process before it serves (main.warm_up)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from launchops.chat.commands import Asker
from launchops.main import AppContext, build_context, prepare_store, warm_up
from launchops.settings import Settings
from tests.conftest import CONFIG_DIR
from tests.services.test_directory import statements

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
ALICE = Asker(platform="slack", user_ids=("U0ALICE",))


def _loads_the_organisation(seen: list[str]) -> bool:
    return any("FROM PERSON" in s.upper() or "FROM TEAM" in s.upper() for s in seen)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        LAUNCHOPS_DATABASE_URL=f"sqlite:///{tmp_path / 'launchops.db'}",
        LAUNCHOPS_CONFIG_DIR=str(CONFIG_DIR),
    )
    prepare_store(settings, actor="test")
    context = build_context(settings, with_chat_adapters=False)
    try:
        yield context
    finally:
        context.close()


def test_warming_up_writes_nothing_and_loads_the_directory(ctx: AppContext) -> None:
    with statements(ctx.engine) as seen:
        warm_up(ctx)
    assert seen, "warming up read nothing: it answered no question"
    assert [s for s in seen if s.lstrip().upper().startswith(_WRITES)] == []
    with statements(ctx.engine) as seen:
        answer = ctx.chat.answer("who owns rag", ALICE)
    assert "Retriever" in answer.reply.text or answer.reply.cards
    assert not _loads_the_organisation(seen), (
        "the first question after warming up still loaded the organisation from the store"
    )


def test_without_warming_up_the_first_question_loads_the_organisation(ctx: AppContext) -> None:
    """The other side of the test above: the first question pays for the load."""
    with statements(ctx.engine) as seen:
        ctx.chat.answer("who owns rag", ALICE)
    assert _loads_the_organisation(seen)
