"""Persistence: SQLModel tables, engine and session scopes, Alembic migrations."""

from launchops.store.db import make_engine, read_scope, session_scope, upgrade_schema, write_lock

__all__ = ["make_engine", "read_scope", "session_scope", "upgrade_schema", "write_lock"]
