"""Personal data in every form the masking must catch, and a way to read what the store
really holds (the SQLite file and its WAL as bytes, PostgreSQL rows as JSON), shared by the
tests that prove none of it is kept."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

SLACK_TOKEN = "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
OPENAI_KEY = "sk-proj-Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0n"
PII = {
    "email": "minjun.park@example.co.kr",
    "korean phone": "010-9876-5432",
    "international phone": "+44 20 7946 0958",
    "card": "4111 1111 1111 1111",
    "bare card": "5500000000000004",
    "rrn": "900101-1234567",
    "ip": "192.168.10.24",
    "slack token": SLACK_TOKEN,
    "api key": OPENAI_KEY,
}
# Each value also as it would leak in pieces (digits without separators).
NEEDLES = [
    *PII.values(),
    "minjun.park",
    "01098765432",
    "4111111111111111",
    "9001011234567",
    "AbCdEfGhIjKlMnOpQrStUvWx",
]


def pii_case(**fields: Any) -> dict[str, Any]:
    return {
        "component": "rag",
        "kind": "negative_feedback",
        "summary": f"고객 연락처{PII['korean phone']}로 회신 요청, 메일{PII['email']}입니다",
        "input": (
            f"card {PII['card']} / {PII['bare card']}, 주민번호{PII['rrn']}입니다, "
            f"call {PII['international phone']}"
        ),
        "output": f"서버{PII['ip']}에서 token={SLACK_TOKEN} key {OPENAI_KEY}",
        "model_version": "answer-2026-11",
        "confidence": 0.31,
        **fields,
    }


def raw_store(engine: Engine, tables: Sequence[str] = ()) -> str:
    """Everything the store holds, as the disk (SQLite) or a dump of `tables` (PostgreSQL;
    every table when none are named) would show it."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        data = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        return data.decode("utf-8", errors="replace")
    tables = tables or sa.inspect(engine).get_table_names()
    with engine.connect() as connection:
        quote = engine.dialect.identifier_preparer.quote
        dumps = [f"SELECT row_to_json(t)::text FROM {quote(t)} t" for t in tables]  # noqa: S608
        return "\n".join(row[0] for dump in dumps for row in connection.execute(sa.text(dump)))
