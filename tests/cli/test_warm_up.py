"""`launchops serve` answers a few questions in-process before it serves (main.warm_up)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from launchops.chat.commands import Asker
from launchops.main import AppContext, build_context, prepare_store, warm_up
from launchops.settings import Settings
from tests.conftest import CONFIG_DIR

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class Statements:
    def __init__(self, ctx: AppContext) -> None:
        self.seen: list[str] = []
        event.listen(ctx.engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        self.seen.append(statement.lstrip().upper())

    def writes(self) -> list[str]:
        return [s for s in self.seen if s.startswith(_WRITES)]


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
    statements = Statements(ctx)
    warm_up(ctx)
    assert statements.seen, "warming up read nothing: it answered no question"
    assert statements.writes() == []
    statements.seen.clear()
    answer = ctx.chat.answer("who owns rag", Asker(platform="slack", user_ids=("U0ALICE",)))
    assert "Retriever" in answer.reply.text or answer.reply.cards
    assert not any("FROM PERSON" in s or "FROM TEAM" in s for s in statements.seen), (
        "the first question after warming up still loaded the organisation from the store"
    )


def test_without_warming_up_the_first_question_loads_the_organisation(ctx: AppContext) -> None:
    """The other side of the test above: the first question pays for the load."""
    statements = Statements(ctx)
    ctx.chat.answer("who owns rag", Asker(platform="slack", user_ids=("U0ALICE",)))
    assert any("FROM PERSON" in s or "FROM TEAM" in s for s in statements.seen)
