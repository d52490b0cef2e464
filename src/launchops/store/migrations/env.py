"""Alembic environment: runs migrations against the URL set by `launchops db upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlmodel import SQLModel

import launchops.store.ledger_models  # (the change ledger)
import launchops.store.roadmap_models  # noqa: F401  (the roadmap tables)
from launchops.store import digest_models, feedback_models, gate_models, models  # noqa: F401
from launchops.store.db import make_engine

# Several replicas may start at once; on PostgreSQL they queue on this lock instead of
# racing to create the same tables.
_MIGRATION_LOCK_ID = 0x4C4F5053  # "LOPS"


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    engine = make_engine(url)
    with engine.connect() as connection:
        is_postgres = connection.dialect.name == "postgresql"
        if is_postgres:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=SQLModel.metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_postgres:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
                connection.commit()
    engine.dispose()


run_migrations_online()
