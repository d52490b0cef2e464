"""Listing incidents stays cheap: a bounded number of queries per page, keyset paging, and no
waiting on the SQLite write lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from launchops.config import load_config
from launchops.services.component_index import ComponentIndex
from launchops.services.config_sync import sync_config
from launchops.services.incident_list import list_incidents
from launchops.store import write_lock
from launchops.store.models import Incident
from launchops.store.types import utcnow
from tests.api.test_alertmanager import TOKEN, api_app
from tests.conftest import CONFIG_DIR

COUNT = 1000


def _seed(engine: Engine, count: int = COUNT) -> None:
    """`count` incidents in one statement: alternately on the retriever and team-only."""
    start = utcnow() - timedelta(days=30)
    rows = [
        {
            "severity": ("p0", "p1", "p2", "p3")[n % 4],
            "status": ("open", "acknowledged", "resolved")[n % 3],
            "title": f"incident {n}",
            "component_id": "retriever" if n % 2 else None,
            "team_id": "data",
            "source": "api",
            "declared_by": "test",
            "declared_at": start + timedelta(minutes=n),
            "policy": {},
            "origin": {},
            "escalation_step": 0,
        }
        for n in range(count)
    ]
    with Session(engine) as session:
        session.execute(insert(Incident), rows)
        session.commit()


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    sync_config(engine, load_config(CONFIG_DIR), source="config", actor="test")
    _seed(engine)
    return engine


class QueryCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._engine = engine

    def _count(self, *_: Any) -> None:
        self.count += 1

    def __enter__(self) -> QueryCounter:
        event.listen(self._engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self._engine, "before_cursor_execute", self._count)


def test_a_thousand_incidents_in_a_bounded_number_of_queries(seeded: Engine) -> None:
    index = ComponentIndex()
    with QueryCounter(seeded) as counter:
        page = list_incidents(seeded, index, limit=1000)
    assert len(page.incidents) == COUNT
    assert page.next_cursor is None
    assert counter.count <= 2, counter.count  # the page (and at most a pool check)

    # The component index reads the directory once per config revision: warm it first, as
    # any running bot's is, so what is counted is the lookup itself.
    list_incidents(seeded, index, component="search index", limit=1)
    with QueryCounter(seeded) as counter:
        page = list_incidents(seeded, index, component="search index", status="open", limit=1000)
    assert page.incidents and all(r.component_id == "retriever" for r in page.incidents)
    assert all(r.status == "open" for r in page.incidents)
    assert counter.count <= 3, counter.count  # the alias lookup, then the page


def test_paging_with_the_cursor_sees_every_incident_once_newest_first(seeded: Engine) -> None:
    index = ComponentIndex()
    seen: list[int] = []
    cursor: int | None = None
    pages = 0
    while True:
        with QueryCounter(seeded) as counter:
            page = list_incidents(seeded, index, limit=100, cursor=cursor)
        assert counter.count <= 2
        seen += [row.id for row in page.incidents]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 10
    assert len(seen) == len(set(seen)) == COUNT
    assert seen == sorted(seen, reverse=True)


def test_listing_never_waits_for_the_write_lock(seeded: Engine) -> None:
    """A declaration holding the SQLite write lock must not hold up a dashboard's read."""
    done = threading.Event()

    def read() -> None:
        list_incidents(seeded, ComponentIndex(), limit=1000)
        done.set()

    with write_lock(seeded):
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        finished = done.wait(timeout=30)
    reader.join(timeout=30)
    assert finished, "the listing queued behind the write lock"


@pytest.fixture
def client(sqlite_url: str) -> Iterator[httpx.Client]:
    with api_app(sqlite_url) as app:
        _seed(app.ctx.engine, 250)
        with app.client() as client:
            yield client


def test_the_api_pages_with_a_cursor(client: httpx.Client) -> None:
    first = client.get("/api/v1/incidents", headers=TOKEN).json()
    assert len(first["incidents"]) == 100  # the default page
    assert first["next_cursor"] == str(first["incidents"][-1]["id"])
    second = client.get(
        "/api/v1/incidents", params={"cursor": first["next_cursor"], "limit": 1000}, headers=TOKEN
    ).json()
    assert len(second["incidents"]) == 150 and second["next_cursor"] is None
    ids = [i["id"] for i in first["incidents"] + second["incidents"]]
    assert len(set(ids)) == 250


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "1001"}, "limit"), ({"cursor": "abc"}, "cursor"), ({"cursor": "-5"}, "cursor")],
)
def test_bad_paging_parameters_get_422_naming_the_field(
    client: httpx.Client, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/v1/incidents", params=params, headers=TOKEN)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["query", field]]


def test_openapi_declares_the_paging(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/incidents"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["limit"]["schema"]["maximum"] == 1000
    assert parameters["limit"]["schema"]["default"] == 100
    assert "cursor" in parameters
    assert "next_cursor" in spec["components"]["schemas"]["IncidentList"]["properties"]
