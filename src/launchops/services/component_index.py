"""Finding a component by any of its names, exactly or approximately.

Both read the directory in force (services/directory.py): an exact match is one dictionary
lookup, an approximate one runs rapidfuzz over every key, with no query per request. A
`config sync` by any replica is picked up within a second, by this process at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlmodel import Session

from launchops.services.directory import Directory, DirectoryCache
from launchops.text import normalize_key

SUGGESTION_CUTOFF = 75.0
MAX_SUGGESTIONS = 3
SEARCH_CUTOFF = 70.0


@dataclass(frozen=True)
class Suggestion:
    component_id: str
    name: str
    score: float


class ComponentIndex:
    """`session` is optional everywhere: a caller inside a transaction may lend its session
    for the rare revision check instead of the index opening its own."""

    def __init__(self, directory: DirectoryCache | None = None) -> None:
        self.directory = directory or DirectoryCache()

    def exact(self, session: Session | None, query: str) -> str | None:
        key = normalize_key(query)
        if not key:
            return None
        return self._keys(session).keys.get(key)

    def suggest(self, session: Session | None, query: str) -> list[Suggestion]:
        """Up to three distinct components whose names look like `query`, best first."""
        keys = self._keys(session)
        matches = process.extract(
            normalize_key(query),
            keys.key_list,
            scorer=fuzz.WRatio,
            limit=MAX_SUGGESTIONS * 4,
            score_cutoff=SUGGESTION_CUTOFF,
        )
        seen: set[str] = set()
        out: list[Suggestion] = []
        for _, score, index in matches:
            component_id, name = keys.key_owners[index]
            if component_id not in seen:
                seen.add(component_id)
                out.append(Suggestion(component_id, name, float(score)))
        return out[:MAX_SUGGESTIONS]

    def search(
        self, session: Session | None, query: str, limit: int = 100
    ) -> list[tuple[str, str]]:
        """(component id, name) pairs for a type-ahead: every component when `query` is empty,
        else exact, prefix and substring matches of any name or alias first, then close ones."""
        keys = self._keys(session)
        wanted = normalize_key(query)
        best: dict[tuple[str, str], float] = {}
        for key, owner in zip(keys.key_list, keys.key_owners, strict=True):
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
                wanted, keys.key_list, scorer=fuzz.WRatio, limit=limit, score_cutoff=SEARCH_CUTOFF
            ):
                owner = keys.key_owners[index]
                best[owner] = max(best.get(owner, 0.0), float(score))
        ranked = sorted(best, key=lambda owner: (-best[owner], owner[1].casefold(), owner[0]))
        return ranked[:limit]

    def _keys(self, session: Session | None) -> Directory:
        return self.directory.get(session)
