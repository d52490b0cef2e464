"""Shared fixtures: fresh databases on SQLite and on a real PostgreSQL server.

PostgreSQL comes from LAUNCHOPS_TEST_POSTGRES_URL (CI: the local server, database `test`).
Without a server the PostgreSQL variants skip with the reason shown; with
LAUNCHOPS_REQUIRE_POSTGRES=1 (set by .ci/run) they fail instead, so CI can never pass by
skipping them.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine, make_url

from launchops.logging_setup import mask_event
from launchops.store import make_engine, upgrade_schema

# Through the stdlib logging module, so pytest captures log lines of background threads too
# (the dispatcher and scheduler) instead of printing them between test results.
structlog.configure(
    processors=[
        structlog.processors.add_log_level,
        structlog.processors.format_exc_info,
        mask_event,  # as in production: test logs exercise the masking too
        structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        ),
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
)

_TEST_LOGGING = structlog.get_config()


@pytest.fixture(autouse=True)
def _logging_as_the_tests_set_it() -> Iterator[None]:
    """A command run in-process (typer's CliRunner: `config check`, `report`, `doctor`) sets
    up logging for a terminal; put the tests' own setup back after each test, or later tests
    stop seeing the bot's log lines (caplog) and their assertions about them fail."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**_TEST_LOGGING)
    root.handlers[:] = handlers
    root.setLevel(level)


REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "config"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_admin_url() -> str:
    return os.environ.get("LAUNCHOPS_TEST_POSTGRES_URL", DEFAULT_PG_URL)


def _postgres_unavailable_reason() -> str | None:
    url = _postgres_admin_url()
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means "no server here"
        return f"PostgreSQL at {make_url(url).render_as_string()} unavailable: {exc}"
    return None


_PG_REASON: str | bool | None = False  # False = not probed yet


def require_postgres() -> str:
    """The admin URL, or skip/fail with the reason when no server answers."""
    global _PG_REASON
    if _PG_REASON is False:
        _PG_REASON = _postgres_unavailable_reason()
    if isinstance(_PG_REASON, str):
        if os.environ.get("LAUNCHOPS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here: {_PG_REASON}")
        pytest.skip(_PG_REASON)
    return _postgres_admin_url()


def create_postgres_database(template: str | None = None) -> tuple[str, str]:
    """A new database on the test server, empty or a copy of `template`: (url, name)."""
    admin_url = require_postgres()
    name = f"lo_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, name


@pytest.fixture(scope="session")
def _migrated_postgres_template() -> Iterator[str]:
    """One database migrated to head per test process, copied for each test that wants a
    migrated one: a copy takes ~0.06 s where creating and migrating took ~0.7 s, and some
    300 tests want one."""
    url, name = create_postgres_database()
    try:
        upgrade_schema(url)
        yield name
    finally:
        drop_postgres_database(name)


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SQLite counterpart: one migrated file per test process, copied per test."""
    path = tmp_path_factory.mktemp("template") / "launchops.db"
    upgrade_schema(f"sqlite:///{path}")
    return path


def _copy_sqlite(template: Path, target: Path) -> str:
    """A copy through SQLite's backup API, so a WAL the migration left behind comes along."""
    with sqlite3.connect(template) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    source.close()
    copy.close()
    return f"sqlite:///{target}"


def drop_postgres_database(name: str) -> None:
    admin = sa.create_engine(_postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fast_config(tmp_path: Path, ack_seconds: int = 2) -> Path:
    """The example config with acknowledge deadlines in seconds, for escalation tests."""
    target = tmp_path / "fast-config"
    target.mkdir(exist_ok=True)
    (target / "catalog.yaml").write_text((CONFIG_DIR / "catalog.yaml").read_text())
    policy = (CONFIG_DIR / "policy.yaml").read_text()
    for original in ("15m", "1h", "4h"):
        policy = policy.replace(f"ack_within: {original},", f"ack_within: {ack_seconds}s,")
    assert policy.count(f"ack_within: {ack_seconds}s") == 3
    (target / "policy.yaml").write_text(policy)
    return target


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database URL, once per backend."""
    if request.param == "sqlite":
        template = request.getfixturevalue("_migrated_sqlite_template")
        yield _copy_sqlite(template, tmp_path / "launchops.db")
        return
    url, name = create_postgres_database(request.getfixturevalue("_migrated_postgres_template"))
    try:
        yield url
    finally:
        drop_postgres_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path, _migrated_sqlite_template: Path) -> str:
    """A migrated SQLite database, for tests where the backend does not matter."""
    return _copy_sqlite(_migrated_sqlite_template, tmp_path / "launchops.db")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()
