"""What adapters need from the store to talk: the outbox, inbound de-duplication and the
conversation references that let the bot speak first (Teams proactive messages)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from launchops.delivery import outbox
from launchops.messages.reply import Reply
from launchops.store import session_scope
from launchops.store.models import ConversationRef, InboundReceipt
from launchops.store.types import utcnow

RECEIPT_RETENTION = timedelta(days=2)


class MessagingService:
    def __init__(self, engine: Engine, on_enqueue: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._on_enqueue = on_enqueue or (lambda: None)

    def set_wakeup(self, on_enqueue: Callable[[], None]) -> None:
        """The dispatcher's wake-up, so a new message leaves at once instead of at next poll."""
        self._on_enqueue = on_enqueue

    def send(
        self,
        *,
        platform: str,
        kind: str,
        destination: dict[str, Any],
        reply: Reply,
        locale: str = "en",
        dedupe_key: str | None = None,
        priority: int = outbox.PRIORITY_NORMAL,
    ) -> int | None:
        """Queue one message; None when `dedupe_key` was queued before (a retried request).

        `priority`: outbox.PRIORITY_BULK for digests and reports, so they never hold up a page.
        """
        with session_scope(self._engine) as session:
            message_id = outbox.enqueue(
                session,
                platform=platform,
                kind=kind,
                destination=destination,
                reply=reply,
                dedupe_key=dedupe_key,
                locale=locale,
                priority=priority,
            )
        if message_id is not None:
            self._on_enqueue()
        return message_id

    def first_time(self, key: str) -> bool:
        """True the first time `key` is seen: Slack retries and repeated clicks get False."""
        try:
            with session_scope(self._engine) as session:
                session.add(InboundReceipt(key=key[:255]))
        except IntegrityError:
            return False
        return True

    def forget_receipts(self, older_than: timedelta = RECEIPT_RETENTION) -> int:
        """Drop receipts older than any platform retries (Slack: minutes), so the table stays
        small; returns how many went."""
        cutoff = utcnow() - older_than
        with session_scope(self._engine) as session:
            result = session.execute(
                delete(InboundReceipt).where(col(InboundReceipt.seen_at) < cutoff)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def remember_conversation(self, platform: str, key: str, reference: dict[str, Any]) -> None:
        with session_scope(self._engine) as session:
            row = session.get(ConversationRef, (platform, key))
            if row is None:
                # A person's first message may reach two replicas at once: the first insert
                # wins, and the other's reference (the same conversation) is not needed.
                table = ConversationRef.__table__  # type: ignore[attr-defined]
                dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
                session.execute(
                    dialect.insert(table)
                    .values(platform=platform, key=key, reference=reference, updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["platform", "key"])
                )
            elif row.reference != reference:
                row.reference = reference
                row.updated_at = utcnow()
                session.add(row)

    def conversation(self, platform: str, key: str) -> dict[str, Any] | None:
        with session_scope(self._engine) as session:
            row = session.get(ConversationRef, (platform, key))
            return dict(row.reference) if row else None
