"""Engine construction, the session scope, and schema upgrades through Alembic."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine tuned for its backend.

    SQLite gets WAL and a busy timeout so the web workers, the dispatcher thread and the
    console can share one file; PostgreSQL gets pre-ping so a restarted server is survived.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # Every web worker thread may hold a connection while it waits for the write lock
        # (its reads come first), so the pool must outnumber the threads that can wait.
        if database and database != ":memory:" and "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 60)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        _lock_only_to_write(engine)
        _close_when_orphaned(engine)
        return engine
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    _close_when_orphaned(engine)
    return engine


_GENERATION = "launchops.pool_generation"  # connection-record info: the pool that opened it


def _close_when_orphaned(engine: Engine) -> None:
    """Close a connection that comes back after `engine.dispose()`, instead of leaving it open.

    dispose() closes only the idle connections: one a background thread still holds (a sweep
    of the scheduler, an answer sent after the ack) goes back, when that thread is done, into
    the discarded pool, and is garbage-collected open later (psycopg: "was deleted while still
    open", during whichever test runs then). Each connection is tagged with the pool
    generation that opened it; one checked in after a dispose is closed on the spot.
    """
    generation = [0]

    @event.listens_for(engine, "connect")
    def _tag(_dbapi: Any, record: Any) -> None:
        record.info[_GENERATION] = generation[0]

    @event.listens_for(engine, "engine_disposed")
    def _disposed(_engine: Any) -> None:
        generation[0] += 1

    @event.listens_for(engine, "checkin")
    def _returned(dbapi: Any, record: Any) -> None:
        if dbapi is not None and record.info.get(_GENERATION, generation[0]) != generation[0]:
            record.invalidate()  # closes the DBAPI connection; the record is never reused


# SQLite has one writer at a time, and a writer that finds the file locked sleeps in growing
# steps (its busy handler), which turned 16 concurrent declarations into multi-second tails.
# Threads of one process therefore queue on a lock instead: first come, first served, no
# sleeping. Other processes on the same file still meet the busy timeout.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_SQLITE_WRITERS_GUARD = threading.Lock()


def write_lock(engine: Engine) -> AbstractContextManager[Any]:
    """Formerly held around a writing transaction; now a no-op kept for its callers. The
    engine takes the lock itself at a transaction's first write (`_lock_only_to_write`), and
    a lock taken before a pool checkout could wait on connections held by threads that wait
    for the lock (lock → connection here, connection → lock there: a deadlock)."""
    del engine
    return nullcontext()


def _lock_of(engine: Engine) -> threading.RLock:
    with _SQLITE_WRITERS_GUARD:
        lock = _SQLITE_WRITERS.get(engine)
        if lock is None:
            lock = _SQLITE_WRITERS[engine] = threading.RLock()
    return lock


_HELD = "launchops.write_lock"  # connection-record info: the lock this connection holds
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _lock_only_to_write(engine: Engine) -> None:
    """Take the process's write lock at a transaction's first write, not at its start.

    pysqlite opens a transaction only at the first INSERT/UPDATE/DELETE (reads before it run
    on their own WAL snapshots, beside any writer), so that is where SQLite's write lock is
    taken too; queuing here at the same point keeps the reads of a unit (who declares, which
    policy, who to page) out of the queue. The lock is let go when the transaction ends.
    An RLock, so a unit nested in another on the same thread does not wait for itself.
    """
    lock = _lock_of(engine)

    @event.listens_for(engine, "before_cursor_execute")
    def _acquire(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        info = conn.info
        if _HELD not in info and statement.lstrip()[:7].upper().startswith(_WRITES):
            lock.acquire()
            info[_HELD] = lock

    def _release(info: dict[str, Any]) -> None:
        held = info.pop(_HELD, None)
        if held is not None:
            held.release()

    # Let go once the connection is back in the pool: that is after its COMMIT or ROLLBACK
    # has run (the `commit` event comes before it), and sessions give their connection back
    # at the end of every transaction.
    @event.listens_for(engine, "checkin")
    def _returned(_dbapi: Any, record: Any) -> None:
        _release(record.info)

    @event.listens_for(engine, "invalidate")
    def _invalidated(_dbapi: Any, record: Any, _error: Any) -> None:
        _release(record.info)  # before the pool clears `info` with the broken connection


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed on success, rolled back on any error. On SQLite the
    write lock is taken only from its first write to its end (see `_lock_only_to_write`)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work that only reads: never queues on the SQLite write lock (WAL lets
    readers run beside the writer), and never commits anything."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.rollback()


def alembic_config(url: str) -> Config:
    config = Config()
    location = resources.files("launchops.store") / "migrations"
    config.set_main_option("script_location", str(location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_schema(url: str, revision: str = "head") -> None:
    """Bring the database to `revision`; safe to run on every start."""
    command.upgrade(alembic_config(url), revision)
