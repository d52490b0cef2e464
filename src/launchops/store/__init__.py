"""Persistence: SQLModel tables, engine and session scope, Alembic migrations."""

from launchops.store.db import make_engine, session_scope, upgrade_schema, write_lock

__all__ = ["make_engine", "session_scope", "upgrade_schema", "write_lock"]
