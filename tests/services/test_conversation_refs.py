"""Where the bot may speak proactively is remembered once per conversation, even when a
person's first message reaches two replicas at the same moment (PostgreSQL gave one of them
a duplicate-key 500 before)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from sqlalchemy.engine import Engine
from sqlmodel import func, select

from launchops.services.messaging import MessagingService
from launchops.store import make_engine, session_scope
from launchops.store.models import ConversationRef


def test_replicas_remembering_a_first_conversation_at_once_store_it_once(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(4)]
    start = Barrier(len(engines))
    reference = {"conversation": {"id": "a:1"}, "serviceUrl": "https://smba.example"}

    def remember(engine: Engine) -> None:
        start.wait()
        MessagingService(engine).remember_conversation("teams", "person:dan", reference)

    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            list(pool.map(remember, engines))  # re-raises any replica's failure
        with session_scope(engines[0]) as session:
            assert session.exec(select(func.count()).select_from(ConversationRef)).one() == 1
            assert MessagingService(engines[0]).conversation("teams", "person:dan") == reference
    finally:
        for engine in engines:
            engine.dispose()
