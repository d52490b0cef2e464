"""One leader among replicas: the scheduler runs on whichever holds the advisory lock.

Any number of `launchops serve` processes may share one PostgreSQL (DESIGN.md §2). Each one
builds its scheduler paused; the replica that holds a session-level
`pg_try_advisory_lock(LOCK_KEY)` on a connection of its own (not one of the request pool's:
a pooled connection goes back and forth between threads, and a lock on it would outlive the
request or vanish with a recycled connection) resumes it. Followers try again every
`interval` seconds. When the leader dies (SIGKILL, a crash, a lost host) its session ends, the
server releases the lock, and the next follower to try takes over: fail-over within one
interval plus a query. When the leader's own lock connection breaks it pauses its jobs at once
and becomes a follower, since it can no longer prove it holds the lock.

Jobs stay idempotent on their own (claims, unique rows), so the moment in which an old leader
has not noticed yet and a new one has started is harmless; the lock only keeps the normal case
to one sweeper. On SQLite there is one process by construction: it is always the leader.

`launchops console` takes part in the same election with `defer=True`, as a candidate that
gives way to `launchops serve`: its services page the terminal only (it has no Slack or Teams
sender), so an escalation it claimed would never reach a chat. It leads only while no serve
replica's lock session (application name `launchops-leader`) is connected to the database; it
does not try the lock while one is, and steps down (closing its session, which frees the lock)
at its next check once one appears. A console alone on PostgreSQL runs the jobs like on SQLite.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from launchops.metrics import LEADER, LEADER_LAST_CHECK

log = structlog.get_logger(__name__)

# One constant per installation's database (advisory locks are per database): "LaunchOp".
LOCK_KEY = 0x4C61_756E_6368_4F70
CHECK_SECONDS = 2.0

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")
# A bigint advisory lock shows in pg_locks as (classid, objid) = (high, low) 32 bits, objsubid 1.
_HOLDS_LOCK = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND objsubid = 1"
    " AND ((classid::bigint << 32) | objid::bigint) = :key)"
)
# A `launchops serve` replica's lock session, as a deferring candidate looks for it.
_REPLICA_CONNECTED = text(
    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
    " AND application_name = :name AND pid <> pg_backend_pid())"
)
SERVE_SESSION = "launchops-leader"
DEFERRING_SESSION = "launchops-console"
# libpq settings for the lock connection: a dead server or network is noticed within seconds
# (a check must never hang longer than the fail-over budget), and the session is named.
_LOCK_CONNECT_ARGS: dict[str, Any] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 5000,
    "application_name": SERVE_SESSION,
    "options": "-c statement_timeout=5000",
}


@dataclass(frozen=True)
class LeaderStatus:
    is_leader: bool
    since: datetime | None  # the last change of role (leader or follower)
    last_check: datetime | None  # the last time the lock was taken, tried or verified
    backend: str

    def as_json(self) -> dict[str, object]:
        return {
            "is_leader": self.is_leader,
            "since": self.since.isoformat() if self.since else None,
            "last_check": self.last_check.isoformat() if self.last_check else None,
            "backend": self.backend,
        }


class Leadership:
    """Holds (or waits for) the leader lock and pauses or resumes a scheduler to match.

    `start(scheduler)` starts the scheduler paused and, on PostgreSQL, a daemon thread that
    checks the lock every `interval` seconds; `stop()` shuts the scheduler down and closes the lock
    connection, which releases the lock at once for the next replica. `defer=True` (the
    console) leads only while no serve replica is connected (see the module's docstring).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = CHECK_SECONDS,
        key: int = LOCK_KEY,
        defer: bool = False,
    ) -> None:
        self._engine = engine
        self._scheduler: Any | None = None  # an APScheduler 3 scheduler (untyped package)
        self._interval = interval
        self._key = key
        self._backend = engine.dialect.name
        self._elects = self._backend == "postgresql"
        self._defer = defer
        self._lock_engine: Engine | None = None
        self._connection: Connection | None = None
        self._state = threading.Lock()
        self._is_leader = False
        self._since: datetime | None = None
        self._last_check: datetime | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading -------------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self._is_leader

    @property
    def last_check(self) -> datetime | None:
        return self._last_check

    def status(self) -> LeaderStatus:
        with self._state:
            return LeaderStatus(self._is_leader, self._since, self._last_check, self._backend)

    # -- running -------------------------------------------------------------------------------

    def start(self, scheduler: Any | None = None) -> None:
        self._scheduler = scheduler
        if scheduler is not None:
            scheduler.start(paused=True)
        with self._state:
            self._since = datetime.now(UTC)
        if not self._elects:
            self._checked()
            self._become_leader(reason="single process store")
            return
        url = self._engine.url
        session = DEFERRING_SESSION if self._defer else SERVE_SESSION
        self._lock_engine = create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={**_LOCK_CONNECT_ARGS, "application_name": session},
        )
        if not self.check():  # the first replica up leads from its first second
            log.info("leader.following", interval=self._interval)
        self._thread = threading.Thread(target=self._run, name="launchops-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)  # a running sweep finishes before the engine goes
        with self._state:
            was_leader = self._is_leader
            self._is_leader = False
        LEADER.set(0)
        self._release()
        if self._lock_engine is not None:
            self._lock_engine.dispose()
        if was_leader and self._elects:
            log.info("leader.released")

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self.check()

    def check(self) -> bool:
        """One round: verify the lock when leading, try to take it when following."""
        if not self._elects:
            self._checked()
            return True
        try:
            connection = self._connect()
            if (
                self._defer
                and connection.execute(_REPLICA_CONNECTED, {"name": SERVE_SESSION}).scalar()
            ):
                self._give_way()
            elif self._is_leader:
                held = bool(connection.execute(_HOLDS_LOCK, {"key": self._key}).scalar())
                if not held:
                    self._become_follower(reason="lock no longer held")
            elif connection.execute(_TRY_LOCK, {"key": self._key}).scalar():
                self._become_leader(reason="lock acquired")
            self._checked()
        except Exception as error:
            # The lock lives and dies with this session: without it, stop at once.
            self._drop_connection()
            if self._is_leader:
                self._become_follower(reason="lock connection lost", error=str(error))
            else:
                log.warning("leader.check_failed", error=str(error))
        return self._is_leader

    def _give_way(self) -> None:
        """A serve replica is up: a deferring candidate neither leads nor tries the lock."""
        if self._is_leader:
            self._release()  # the replica may take the lock at its very next check
            self._become_follower(reason="a launchops serve replica is up")
        self._checked()

    def _connect(self) -> Connection:
        if self._connection is None:
            assert self._lock_engine is not None
            self._connection = self._lock_engine.connect()
        return self._connection

    def _release(self) -> None:
        """Unlock, then close the session. Closing alone frees the lock too, but only once the
        server has ended the backend, a moment after the client hangs up; the explicit unlock
        hands it over at once."""
        if self._connection is not None:  # unlocking a lock not held only returns false
            try:
                self._connection.execute(_UNLOCK, {"key": self._key})
            except Exception as error:
                log.debug("leader.unlock_failed", error=str(error))
        self._drop_connection()

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception as error:
                log.debug("leader.close_failed", error=str(error))

    def _checked(self) -> None:
        now = datetime.now(UTC)
        with self._state:
            self._last_check = now
        LEADER_LAST_CHECK.set(now.timestamp())

    def _become_leader(self, *, reason: str) -> None:
        now = datetime.now(UTC)
        scheduler = self._scheduler
        due: list[str] = []
        if scheduler is not None:
            # Runs missed while following (or paused) happen now rather than being dropped
            # as misfires: an escalation due during the hand-over goes out at once, and the
            # digest check catches up like after a restart.
            for job in scheduler.get_jobs():
                if job.next_run_time is not None and job.next_run_time <= now:
                    job.modify(next_run_time=now)
                    due.append(str(job.id))
            scheduler.resume()
        with self._state:
            self._is_leader = True
            self._since = now
        LEADER.set(1)
        log.info("leader.elected", reason=reason, backend=self._backend, run_now=due)

    def _become_follower(self, *, reason: str, error: str | None = None) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.pause()
        with self._state:
            self._is_leader = False
            self._since = datetime.now(UTC)
        LEADER.set(0)
        log.warning("leader.stepped_down", reason=reason, error=error)
