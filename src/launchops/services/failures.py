"""Recording failure cases, from the API and from chat: masked at the door, stored once.

Every text is masked before a row is built, so neither the store nor a log line ever holds
what was masked; only counts are logged. A batch is all or nothing: every component is
resolved first (an unknown one refuses the whole batch, naming each), then all rows go in
one transaction, in a handful of statements whatever the batch size.

A case with a `trace_id` is stored once per component: a retried upload, the same trace in
two batches or twice in one batch all come back with the id stored first. Two replicas
racing on the same trace both end up with that id, because the insert skips conflicts
(`ON CONFLICT DO NOTHING`, on both backends) and the ids are read after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

import structlog
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from launchops.domain.masking import mask
from launchops.services.component_index import ComponentIndex
from launchops.store import session_scope
from launchops.store.feedback_models import FailureCase
from launchops.store.types import utcnow

__all__ = [
    "FAILURE_KINDS",
    "MAX_CASES",
    "FailureKind",
    "FailureService",
    "NewCase",
    "StoredCase",
    "UnknownComponent",
    "UnknownComponents",
    "resolve_components",
]

log = structlog.get_logger(__name__)

FailureKind = Literal["low_confidence", "negative_feedback", "error", "safety", "other"]
FAILURE_KINDS: Final[tuple[FailureKind, ...]] = (
    "low_confidence",
    "negative_feedback",
    "error",
    "safety",
    "other",
)
MAX_CASES: Final = 1000
_table = FailureCase.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NewCase:
    """A case as given (unmasked); `component` is an id, name or alias."""

    component: str
    summary: str
    kind: FailureKind = "other"
    occurred_at: datetime | None = None
    confidence: float | None = None
    model_version: str | None = None
    prompt_version: str | None = None
    trace_id: str | None = None
    input: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class StoredCase:
    id: int
    component_id: str
    duplicate: bool  # the trace was stored before (or earlier in the same batch)
    summary: str  # as stored: masked


@dataclass(frozen=True)
class UnknownComponent:
    position: int  # the case's index in the batch
    query: str
    suggestions: tuple[str, ...] = ()


@dataclass
class UnknownComponents(Exception):
    """Nothing was stored: these cases name no known component."""

    problems: list[UnknownComponent] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.problems)} case(s) name no known component"


def resolve_components(index: ComponentIndex, queries: Sequence[str]) -> list[str]:
    """Each query's component id; raises UnknownComponents naming every miss, so one
    fix-and-retry is enough."""
    ids: list[str] = []
    problems: list[UnknownComponent] = []
    for position, query in enumerate(queries):
        found = index.exact(None, query)
        if found is None:
            hints = tuple(s.component_id for s in index.suggest(None, query))
            problems.append(UnknownComponent(position, query, hints))
            found = ""
        ids.append(found)
    if problems:
        raise UnknownComponents(problems)
    return ids


def _masked(text: str | None) -> str | None:
    return None if text is None else mask(text)


def _aware(moment: datetime | None, now: datetime) -> datetime:
    if moment is None:
        return now
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class FailureService:
    def __init__(
        self, engine: Engine, index: ComponentIndex, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._engine = engine
        self._index = index
        self._clock = clock

    def record(
        self,
        cases: Sequence[NewCase],
        *,
        source: Literal["api", "chat"] = "api",
        person_id: str | None = None,
    ) -> list[StoredCase]:
        """Store every case (masked), one id per case in order; all or nothing."""
        if not cases:
            return []
        components = resolve_components(self._index, [case.component for case in cases])
        now = self._clock()
        rows = [
            _row(case, component, now, source, person_id)
            for case, component in zip(cases, components, strict=True)
        ]
        with session_scope(self._engine) as session:
            stored = _insert(session, rows)
        duplicates = sum(1 for s in stored if s.duplicate)
        log.info("failures.recorded", cases=len(stored), duplicates=duplicates, source=source)
        return stored


def _row(
    case: NewCase, component: str, now: datetime, source: str, person_id: str | None
) -> dict[str, Any]:
    return {
        "component_id": component,
        "kind": case.kind,
        "summary": mask(case.summary),
        "input": _masked(case.input),
        "output": _masked(case.output),
        "confidence": case.confidence,
        "model_version": _masked(case.model_version),
        "prompt_version": _masked(case.prompt_version),
        "trace_id": _masked(case.trace_id),
        "occurred_at": _aware(case.occurred_at, now),
        "recorded_at": now,
        "source": source,
        "person_id": person_id,
    }


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[StoredCase]:
    ids: list[int | None] = [None] * len(rows)
    duplicate = [False] * len(rows)
    untraced = [i for i, row in enumerate(rows) if row["trace_id"] is None]
    if untraced:
        statement = insert(_table).returning(_table.c.id, sort_by_parameter_order=True)
        result = session.execute(statement, [rows[i] for i in untraced])
        for position, new_id in zip(untraced, result.scalars().all(), strict=True):
            ids[position] = int(new_id)

    first_of: dict[tuple[str, str], int] = {}  # (component, trace) → first position
    for position, row in enumerate(rows):
        if row["trace_id"] is not None:
            key = (row["component_id"], row["trace_id"])
            if key in first_of:
                duplicate[position] = True
            else:
                first_of[key] = position
    if first_of:
        before = _trace_ids(session, list(first_of))
        fresh = [rows[p] for key, p in first_of.items() if key not in before]
        if fresh:
            session.execute(_insert_skipping_conflicts(session), fresh)
        missing = [key for key in first_of if key not in before]
        known = before | (_trace_ids(session, missing) if missing else {})
        for position, row in enumerate(rows):
            if row["trace_id"] is not None:
                key = (row["component_id"], row["trace_id"])
                ids[position] = known[key]
                duplicate[position] = duplicate[position] or key in before
    stored: list[StoredCase] = []
    for new_id, row, dup in zip(ids, rows, duplicate, strict=True):
        assert new_id is not None, "every case has an id once inserted"
        stored.append(StoredCase(new_id, row["component_id"], dup, row["summary"]))
    return stored


def _insert_skipping_conflicts(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(_table).on_conflict_do_nothing(
            index_elements=["component_id", "trace_id"]
        )
    if dialect == "sqlite":
        return sqlite.insert(_table).on_conflict_do_nothing(
            index_elements=["component_id", "trace_id"]
        )
    raise NotImplementedError(f"no conflict-free insert for {dialect}")  # pragma: no cover


def _trace_ids(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Stored ids of the given (component, trace) pairs, found by trace then filtered."""
    wanted = set(keys)
    traces = sorted({trace for _, trace in keys})
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(traces), 500):
        chunk = traces[start : start + 500]
        statement = select(_table.c.component_id, _table.c.trace_id, _table.c.id).where(
            _table.c.trace_id.in_(chunk)
        )
        for component_id, trace_id, row_id in session.execute(statement):
            if (component_id, trace_id) in wanted:
                found[(component_id, trace_id)] = int(row_id)
    return found
