"""After a load: is everything the load did in the store once, and in the fake Web API once?

The store's side: every declaration answered 200 is one incident (found by its unique title;
none twice), every acknowledged click's incident is acknowledged, every gate decision
answered 200 is one `gatedecision` row (none twice). The delivery side, once the outbox has
drained: every Slack post or DM the outbox holds is `sent`, and its recorded `ts` is one
chat.postMessage the fake answered; a post the fake saw that no row recorded, or two posts
with the same channel, thread and text, is a duplicate. Pages (rows keyed
`incident:<n>:page:…`) and gate messages (`gate:…`) are counted on their own.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa

from bench._load_driver import Ledger
from launchops.store.gate_models import GateDecision
from launchops.store.models import Incident, OutboxMessage

DRAIN_TIMEOUT = 120.0  # a killed replica's claims come back after CLAIM_TTL_SECONDS (30 s)
_POSTING = ("post", "dm")  # the outbox kinds that end in one chat.postMessage


@dataclass
class Check:
    declared_acked: int = 0
    incidents: int = 0  # the load's incidents in the store
    declarations_lost: list[str] = field(default_factory=list)  # acked, not in the store
    incidents_twice: list[str] = field(default_factory=list)
    unanswered_but_stored: int = 0  # no 200 came back, yet committed (allowed, reported)
    acks_lost: list[int] = field(default_factory=list)
    decisions_acked: int = 0
    decisions: int = 0  # rows for the load's gate requests
    decisions_lost: list[str] = field(default_factory=list)
    decisions_twice: list[str] = field(default_factory=list)
    drained: bool = False
    outbox_posts: int = 0  # rows that end in a chat.postMessage
    not_sent: list[str] = field(default_factory=list)  # such rows left pending, sending, dead
    pages: int = 0
    pages_delivered: int = 0  # pages whose ts the fake answered exactly once
    gate_messages: int = 0
    gate_messages_delivered: int = 0
    fake_posts: int = 0
    posts_lost: list[str] = field(default_factory=list)  # a sent row's ts the fake never gave
    posts_unrecorded: list[str] = field(default_factory=list)  # a post no row recorded
    posts_identical: list[str] = field(default_factory=list)  # same channel, thread and text
    bad_answers: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return (
            len(self.declarations_lost)
            + len(self.acks_lost)
            + len(self.decisions_lost)
            + len(self.not_sent)
            + len(self.posts_lost)
        )

    @property
    def duplicated(self) -> int:
        return (
            len(self.incidents_twice)
            + len(self.decisions_twice)
            + len(self.posts_unrecorded)
            + len(self.posts_identical)
        )

    def as_dict(self) -> dict[str, Any]:
        shown = {k: (v[:10] if isinstance(v, list) else v) for k, v in self.__dict__.items()}
        return {"lost": self.lost, "duplicated": self.duplicated, **shown}


def wait_for_drain(engine: sa.Engine, timeout: float = DRAIN_TIMEOUT) -> bool:
    """True once no outbox row is pending or sending (the replicas deliver; we only look)."""
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    query = sa.select(sa.func.count()).where(table.c.status.in_(("pending", "sending")))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar_one() == 0:
                return True
        time.sleep(0.5)
    return False


def check(database_url: str, fake: str, ledger: Ledger, tag: str) -> Check:
    """Compare `ledger` (what the load was told) with the store and the fake at `fake`."""
    found = Check(bad_answers=list(ledger.bad_answers))
    engine = sa.create_engine(database_url)
    try:
        found.drained = wait_for_drain(engine)
        time.sleep(1.0)  # a send whose outcome is being written as we look
        with engine.connect() as conn:
            _incidents(conn, ledger, tag, found)
            _decisions(conn, ledger, found)
            rows = conn.execute(
                sa.select(OutboxMessage.__table__).where(  # type: ignore[attr-defined]
                    OutboxMessage.__table__.c.platform == "slack",  # type: ignore[attr-defined]
                    OutboxMessage.__table__.c.kind.in_(_POSTING),  # type: ignore[attr-defined]
                )
            ).all()
    finally:
        engine.dispose()
    messages = httpx.get(f"{fake}/_messages", timeout=30).json()["messages"]
    compare_deliveries(rows, messages, found)
    return found


def _incidents(conn: sa.Connection, ledger: Ledger, tag: str, found: Check) -> None:
    table = Incident.__table__  # type: ignore[attr-defined]
    rows = conn.execute(
        sa.select(table.c.id, table.c.title, table.c.acknowledged_by).where(
            table.c.title.startswith(f"load {tag} ")
        )
    ).all()
    titles = Counter(str(r.title) for r in rows)
    acked = {title for title, number in ledger.declared.items() if number is not None}
    found.declared_acked = len(acked)
    found.incidents = len(rows)
    found.declarations_lost = sorted(acked - set(titles))
    found.incidents_twice = sorted(t for t, n in titles.items() if n > 1)
    found.unanswered_but_stored = len(set(ledger.unanswered_declarations) & set(titles))
    acknowledged = {int(r.id) for r in rows if r.acknowledged_by}
    found.acks_lost = sorted(set(ledger.acknowledged) - acknowledged)


def _decisions(conn: sa.Connection, ledger: Ledger, found: Check) -> None:
    table = GateDecision.__table__  # type: ignore[attr-defined]
    gates = sorted(set(ledger.gates))
    rows = conn.execute(
        sa.select(table.c.request_id, table.c.person_id, table.c.verdict).where(
            table.c.request_id.in_(gates)
        )
    ).all()
    seen = Counter((int(r.request_id), str(r.person_id), str(r.verdict)) for r in rows)
    asked = set(ledger.decisions)
    found.decisions_acked = len(asked)
    found.decisions = len(rows)
    found.decisions_lost = [f"gate #{g} {p} {v}" for g, p, v in sorted(asked - set(seen))]
    found.decisions_twice = [f"gate #{g} {p}" for (g, p, _), n in seen.items() if n > 1]


def compare_deliveries(rows: Sequence[Any], messages: list[list[Any]], found: Check) -> None:
    posts = [m for m in messages if m[0] == "chat.postMessage"]
    found.fake_posts = len(posts)
    by_ts = Counter(str(m[2]) for m in posts)
    identity = Counter((m[1], m[3], m[4]) for m in posts)
    found.posts_identical = [f"{c} thread {t} text {d[:8]}" for (c, t, d), n in identity.items()
                             if n > 1]  # fmt: skip
    recorded: set[str] = set()
    found.outbox_posts = len(rows)
    for row in rows:
        key = str(row.dedupe_key or f"outbox #{row.id}")
        is_page = ":page:" in key and key.startswith("incident:")
        is_gate = key.startswith("gate:")
        found.pages += is_page
        found.gate_messages += is_gate
        if row.status != "sent":
            found.not_sent.append(f"{key} ({row.status})")
            continue
        ts = str((row.result or {}).get("ts"))
        recorded.add(ts)
        if by_ts[ts] != 1:
            found.posts_lost.append(f"{key}: ts {ts} posted {by_ts[ts]} times")
            continue
        found.pages_delivered += is_page
        found.gate_messages_delivered += is_gate
    found.posts_unrecorded = [
        f"{m[1]} ts {m[2]} (thread {m[3]})" for m in posts if str(m[2]) not in recorded
    ]
