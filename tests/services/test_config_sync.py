"""Loading config into the store: all or nothing, idempotent, audited."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from launchops.config import ConfigError, load_config
from launchops.main import prepare_store
from launchops.services.config_sync import current_policy, sync_config
from launchops.settings import Settings
from launchops.store import session_scope
from launchops.store.models import AuditEntry, Component, ComponentKey, ConfigRevision, TeamMember
from tests.conftest import CONFIG_DIR


def _count(engine: Engine, table: type) -> int:
    with session_scope(engine) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def test_sync_loads_everything_and_audits(engine: Engine) -> None:
    result = sync_config(engine, load_config(CONFIG_DIR), source="config", actor="tester")
    assert result.changed
    assert _count(engine, Component) == 10
    assert _count(engine, ComponentKey) > 30
    with session_scope(engine) as session:
        entry = session.exec(select(AuditEntry)).one()
        assert (entry.actor, entry.action) == ("tester", "config.synced")
        # chris is data's on-call: listed only under oncall, still a member with rank 0
        chris = session.get(TeamMember, ("data", "chris"))
        assert chris is not None and chris.oncall_rank == 0


def test_sync_twice_is_a_no_op(engine: Engine) -> None:
    first = sync_config(engine, load_config(CONFIG_DIR), source="config", actor="t")
    second = sync_config(engine, load_config(CONFIG_DIR), source="config", actor="t")
    assert not second.changed and second.revision == first.revision
    assert _count(engine, ConfigRevision) == 1
    assert _count(engine, AuditEntry) == 1


def test_changed_config_replaces_the_catalog(engine: Engine, tmp_path: Path) -> None:
    sync_config(engine, load_config(CONFIG_DIR), source="config", actor="t")
    changed = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, changed)
    catalog = changed / "catalog.yaml"
    catalog.write_text(catalog.read_text().replace("aliases: [rag, ", "aliases: [rag2, "))
    result = sync_config(engine, load_config(changed), source="changed", actor="t")
    assert result.changed
    with session_scope(engine) as session:
        assert session.get(ComponentKey, "rag") is None
        assert session.get(ComponentKey, "rag2") is not None
    assert _count(engine, ConfigRevision) == 2
    policy = current_policy(engine)
    assert policy is not None and policy.alerts.fallback_team == "platform"


def test_broken_config_keeps_the_last_good_one(db_url: str, tmp_path: Path) -> None:
    good = Settings(
        _env_file=None,
        LAUNCHOPS_DATABASE_URL=db_url,  # type: ignore[call-arg]
        LAUNCHOPS_CONFIG_DIR=str(CONFIG_DIR),
    )
    assert prepare_store(good, actor="t") is not None
    broken_dir = tmp_path / "broken"
    shutil.copytree(CONFIG_DIR, broken_dir)
    (broken_dir / "catalog.yaml").write_text("people: [not a mapping\n")
    broken = good.model_copy(update={"config_dir": broken_dir})
    assert prepare_store(broken, actor="t") is None  # rejected, logged, nothing replaced
    from launchops.store import make_engine

    engine = make_engine(db_url)
    try:
        assert _count(engine, Component) == 10
        assert _count(engine, ConfigRevision) == 1
    finally:
        engine.dispose()


def test_broken_config_with_no_earlier_one_fails(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text("people: [\n")
    (tmp_path / "policy.yaml").write_text("{}\n")
    settings = Settings(
        _env_file=None,
        LAUNCHOPS_DATABASE_URL=sqlite_url,  # type: ignore[call-arg]
        LAUNCHOPS_CONFIG_DIR=str(tmp_path),
    )
    with pytest.raises(ConfigError):
        prepare_store(settings, actor="t")


def test_replicas_syncing_a_new_postgresql_database_at_once_sync_it_once() -> None:
    """Replicas started together on a new database each run the first sync: one writes the
    catalog, the others wait for it and find it done (before, a duplicate person failed them)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from launchops.store import make_engine, upgrade_schema
    from tests.conftest import create_postgres_database, drop_postgres_database

    url, name = create_postgres_database()
    engines: list[Engine] = []
    try:
        upgrade_schema(url)
        config = load_config(CONFIG_DIR)
        engines = [make_engine(url) for _ in range(3)]
        start = Barrier(len(engines))

        def sync(engine: Engine) -> bool:
            start.wait()
            return sync_config(engine, config, source="config", actor="replica").changed

        with ThreadPoolExecutor(len(engines)) as pool:
            changed = list(pool.map(sync, engines))
        assert sorted(changed) == [False, False, True]
        with session_scope(engines[0]) as session:
            assert session.exec(select(func.count()).select_from(ConfigRevision)).one() == 1
    finally:
        for engine in engines:
            engine.dispose()
        drop_postgres_database(name)
