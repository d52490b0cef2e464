"""Identity and the catalogue from memory (issue 8, item 3), on SQLite and PostgreSQL.

Once the directory is warm, `identify` and `who_owns` run no query at all; a new config
revision is picked up at once when it is synced in this process, and within the revision
check's period (one cheap query a second) when another process syncs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from launchops.config import load_config
from launchops.domain.errors import NotFound
from launchops.services import config_sync
from launchops.services.component_index import ComponentIndex
from launchops.services.config_sync import sync_config
from launchops.services.directory import CHECK_SECONDS, DirectoryCache
from launchops.services.ownership import OwnershipService
from launchops.services.people import ANONYMOUS, PeopleService
from tests.conftest import CONFIG_DIR


class FrozenClock:
    """Time stands still until a test moves it: the revision check runs only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement sent to `engine` inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def services(engine: Engine, clock: FrozenClock) -> tuple[PeopleService, OwnershipService]:
    directory = DirectoryCache(engine, clock=clock)
    return PeopleService(engine, directory), OwnershipService(engine, ComponentIndex(directory))


def test_warm_identify_and_who_owns_run_no_query(synced: Engine) -> None:
    people, ownership = services(synced, FrozenClock())
    people.identify("slack", ("U0DAN",))  # warms the directory
    with statements(synced) as seen:
        dan = people.identify("slack", ("U0DAN",))
        alice = people.identify("teams", ("nope", "29:1alice"))
        inside = ownership.who_owns("guardrails", dan, shared=False)
        outside = ownership.who_owns("guardrails", alice, shared=False)
        answer = ownership.who_owns("rag", alice, shared=True)
        with pytest.raises(NotFound):
            ownership.who_owns("retreiver", alice, shared=False)
        holdings = ownership.owned_by("Data team")
        team = people.team_for_channel("slack", "C0DATA")
        choices = ownership.search_components("", 10)
    assert seen == []
    assert dan.person_id == "dan" and alice.person_id == "alice"
    assert inside.runbook and not inside.redacted  # confidential: shown to its own team only
    assert outside.redacted and outside.runbook is None
    assert answer.oncall is not None and answer.oncall.name == "Chris Novak"
    assert {h.component_id for h in holdings.holdings} == {"retriever", "indexing"}
    assert team == "data"
    assert ("retriever", "Retriever") in choices


def test_revision_is_checked_at_most_once_a_period(synced: Engine) -> None:
    clock = FrozenClock()
    people, _ = services(synced, clock)
    people.identify("slack", ("U0DAN",))
    clock.now += CHECK_SECONDS
    with statements(synced) as seen:
        for _ in range(20):
            people.identify("slack", ("U0DAN",))
    assert len(seen) == 1 and "configrevision" in seen[0].lower()  # one cheap query, no reload


def _renamed(engine: Engine) -> None:
    """What `launchops config sync` does after the retriever is renamed in catalog.yaml."""
    config = load_config(CONFIG_DIR)
    [retriever] = [c for c in config.catalog.components if c.id == "retriever"]
    renamed = retriever.model_copy(update={"name": "Finder", "aliases": ["rag", "seeker"]})
    components = [renamed if c.id == "retriever" else c for c in config.catalog.components]
    catalog = config.catalog.model_copy(update={"components": components})
    sync_config(engine, config.model_copy(update={"catalog": catalog}), source="t", actor="t")


def test_a_revision_synced_in_this_process_is_served_at_once(synced: Engine) -> None:
    _, ownership = services(synced, FrozenClock())  # time never moves: only the notice counts
    assert ownership.who_owns("rag", ANONYMOUS, shared=False).component_name == ("Retriever")
    _renamed(synced)
    answer = ownership.who_owns("seeker", ANONYMOUS, shared=False)
    assert answer.component_name == "Finder"
    assert "seeker" in answer.aliases


def test_a_revision_synced_elsewhere_is_served_after_the_check_period(
    synced: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FrozenClock()
    _, ownership = services(synced, clock)
    assert ownership.who_owns("rag", ANONYMOUS, shared=False).component_name == ("Retriever")
    # Another process's sync: nothing in this one hears of it.
    monkeypatch.setattr(config_sync, "_notify", lambda: None)
    _renamed(synced)
    assert ownership.who_owns("rag", ANONYMOUS, shared=False).component_name == ("Retriever")
    clock.now += CHECK_SECONDS
    assert ownership.who_owns("rag", ANONYMOUS, shared=False).component_name == "Finder"
    with pytest.raises(NotFound):
        ownership.who_owns("search index", ANONYMOUS, shared=False)
