"""Finding a component by any of its names, exactly or approximately.

Exact matches are one primary-key read of `componentkey`. Approximate matches need every key
in memory for rapidfuzz; that list is cached per config revision, so a `config sync` by any
replica is picked up on the next lookup without a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlmodel import Session, col, func, select

from launchops.domain.text import normalize_key
from launchops.store.models import Component, ComponentKey, ConfigRevision

SUGGESTION_CUTOFF = 75.0
MAX_SUGGESTIONS = 3
SEARCH_CUTOFF = 70.0


@dataclass(frozen=True)
class Suggestion:
    component_id: str
    name: str
    score: float


class _Keys:
    def __init__(self, revision: int | None, rows: list[tuple[str, str, str]]) -> None:
        self.revision = revision
        self.keys = [key for key, _, _ in rows]
        self.owner = [(component_id, name) for _, component_id, name in rows]


class ComponentIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: _Keys | None = None

    def exact(self, session: Session, query: str) -> str | None:
        key = normalize_key(query)
        if not key:
            return None
        row = session.get(ComponentKey, key)
        return row.component_id if row else None

    def suggest(self, session: Session, query: str) -> list[Suggestion]:
        """Up to three distinct components whose names look like `query`, best first."""
        keys = self._keys(session)
        matches = process.extract(
            normalize_key(query),
            keys.keys,
            scorer=fuzz.WRatio,
            limit=MAX_SUGGESTIONS * 4,
            score_cutoff=SUGGESTION_CUTOFF,
        )
        seen: set[str] = set()
        out: list[Suggestion] = []
        for _, score, index in matches:
            component_id, name = keys.owner[index]
            if component_id not in seen:
                seen.add(component_id)
                out.append(Suggestion(component_id, name, float(score)))
        return out[:MAX_SUGGESTIONS]

    def search(self, session: Session, query: str, limit: int = 100) -> list[tuple[str, str]]:
        """(component id, name) pairs for a type-ahead: every component when `query` is empty,
        else exact, prefix and substring matches of any name or alias first, then close ones."""
        keys = self._keys(session)
        wanted = normalize_key(query)
        best: dict[tuple[str, str], float] = {}
        for key, owner in zip(keys.keys, keys.owner, strict=True):
            if not wanted:
                score = 0.0
            elif key == wanted:
                score = 300.0
            elif key.startswith(wanted):
                score = 200.0
            elif wanted in key:
                score = 150.0
            else:
                continue
            best[owner] = max(best.get(owner, score), score)
        if wanted:
            for _, score, index in process.extract(
                wanted, keys.keys, scorer=fuzz.WRatio, limit=limit, score_cutoff=SEARCH_CUTOFF
            ):
                owner = keys.owner[index]
                best[owner] = max(best.get(owner, 0.0), float(score))
        ranked = sorted(best, key=lambda owner: (-best[owner], owner[1].casefold(), owner[0]))
        return ranked[:limit]

    def _keys(self, session: Session) -> _Keys:
        revision = session.exec(select(func.max(ConfigRevision.id))).one()
        cached = self._cached
        if cached is not None and cached.revision == revision:
            return cached
        with self._lock:
            if self._cached is None or self._cached.revision != revision:
                rows = session.exec(
                    select(ComponentKey.key, ComponentKey.component_id, Component.name).join(
                        Component, col(Component.id) == col(ComponentKey.component_id)
                    )
                ).all()
                self._cached = _Keys(revision, [(k, c, n) for k, c, n in rows])
            return self._cached
