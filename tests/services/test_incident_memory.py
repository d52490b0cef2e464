"""A declaration reads the organisation and the policy from the directory in memory: the
answers must be exactly the ones the store gives, and a new revision must be seen at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from launchops.config import load_config
from launchops.config.models import Policy
from launchops.services.config_sync import sync_config
from launchops.services.directory import Directory, DirectoryCache
from launchops.services.incident_records import incident_view
from launchops.services.incidents import Actor, IncidentService
from launchops.services.org import org_snapshot
from launchops.services.people import PeopleService
from launchops.store import session_scope
from launchops.store.models import Incident
from tests.conftest import fast_config

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


@pytest.fixture
def fast(engine: Engine, tmp_path: Path) -> Engine:
    sync_config(engine, load_config(fast_config(tmp_path)), source="fast", actor="test")
    return engine


def actor(engine: Engine, slack_id: str) -> Actor:
    viewer = PeopleService(engine).identify("slack", (slack_id,))
    return Actor(viewer=viewer, label=viewer.name or slack_id)


def service(engine: Engine) -> IncidentService:
    return IncidentService(engine, platforms=("slack",), clock=lambda: NOW)


def test_org_snapshot_from_the_directory_is_the_stores(fast: Engine) -> None:
    with session_scope(fast) as session:
        directory = DirectoryCache().get(session)
        cases = [(c, None) for c in directory.components]
        cases += [(None, t) for t in directory.teams] + [(None, None)]
        assert len(cases) > 3
        for component_id, team_id in cases:
            stored = org_snapshot(session, component_id=component_id, team_id=team_id)
            remembered = org_snapshot(
                session, component_id=component_id, team_id=team_id, directory=directory
            )
            assert remembered == stored, (component_id, team_id)


def test_org_snapshot_reads_the_store_for_what_left_the_config(fast: Engine) -> None:
    """An old incident's component or team the directory no longer knows is still found."""
    with session_scope(fast) as session:
        empty = Directory(revision=None)
        stored = org_snapshot(session, component_id="retriever", team_id=None)
        assert stored.raci  # the store knows it
        assert (
            org_snapshot(session, component_id="retriever", team_id=None, directory=empty) == stored
        )
        by_team = org_snapshot(session, component_id=None, team_id="data")
        assert org_snapshot(session, component_id=None, team_id="data", directory=empty) == (
            by_team
        )


def test_incident_view_from_the_directory_is_the_stores(fast: Engine) -> None:
    incidents = service(fast)
    alice = actor(fast, "U0ALICE")
    p0 = incidents.declare(level="p0", title="down", component_query="rag", actor=alice)
    p1 = incidents.declare(level="p1", title="slow", component_query="rag", actor=alice)
    assert p0.incident.responders  # names to look up
    incidents.take_postmortem(p1.incident.id, actor(fast, "U0CHRIS"))
    with session_scope(fast) as session:
        directory = DirectoryCache().get(session)
        for declared in (p0, p1):
            row = session.get(Incident, declared.incident.id)
            assert row is not None
            stored = incident_view(session, row)
            assert incident_view(session, row, directory=directory) == stored
            # Nothing known in memory: every name comes from the store, the same names.
            assert incident_view(session, row, directory=Directory(revision=None)) == stored
    assert incidents.get(p1.incident.id).postmortem_owner == "Chris Novak"


def test_a_declaration_parses_no_policy(fast: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    incidents = service(fast)
    alice = actor(fast, "U0ALICE")
    incidents.declare(level="p3", title="first", component_query="rag", actor=alice)
    parsed: list[object] = []
    original = Policy.model_validate

    def counting(obj: object, *args: object, **kwargs: object) -> Policy:
        parsed.append(obj)
        return original(obj, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Policy, "model_validate", counting)
    for n in range(3):
        declared = incidents.declare(
            level="p2", title=f"again {n}", component_query="rag", actor=alice
        )
        assert declared.created
    assert parsed == []


def test_a_new_policy_applies_at_once_and_old_incidents_keep_theirs(
    fast: Engine, tmp_path: Path
) -> None:
    incidents = service(fast)
    alice = actor(fast, "U0ALICE")
    before = incidents.declare(level="p1", title="before", component_query="rag", actor=alice)
    assert before.incident.ack_deadline == NOW + timedelta(seconds=2)
    (tmp_path / "slower").mkdir()
    slower = fast_config(tmp_path / "slower", ack_seconds=7)
    sync_config(fast, load_config(slower), source="slower", actor="test")
    after = incidents.declare(level="p1", title="after", component_query="rag", actor=alice)
    assert after.incident.ack_deadline == NOW + timedelta(seconds=7)
    with session_scope(fast) as session:
        old = session.get(Incident, before.incident.id)
        new = session.get(Incident, after.incident.id)
        assert old is not None and new is not None
        assert old.policy["severities"]["p1"]["ack_within"] == "2s"
        assert new.policy["severities"]["p1"]["ack_within"] == "7s"
        assert old.policy is not new.policy


@pytest.mark.parametrize("level", ["p0", "p1", "p3"])
def test_the_view_a_declaration_returns_is_what_a_later_read_gives(
    fast: Engine, level: str
) -> None:
    """The declaration builds its view without asking the store who responds when it paged
    nobody; paged or not, that view is the one the store gives afterwards."""
    incidents = service(fast)
    declared = incidents.declare(
        level=level, title="compare", component_query="rag", actor=actor(fast, "U0ALICE")
    )
    assert bool(declared.incident.responders) == (level != "p3")
    assert declared.incident == incidents.get(declared.incident.id)
