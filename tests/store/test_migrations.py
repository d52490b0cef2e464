"""The migrations build exactly the schema the models describe, on both backends, and go
back down cleanly."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import launchops.store.ledger_models  # (the change ledger)
import launchops.store.roadmap_models  # noqa: F401  (the roadmap tables)
from launchops.store import (  # noqa: F401  (every table)
    digest_models,
    feedback_models,
    gate_models,
    models,
)
from launchops.store.db import alembic_config, upgrade_schema


def _drift(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def test_migrations_match_the_models(db_url: str) -> None:
    assert _drift(db_url) == []


def test_downgrade_to_the_start_and_up_again(db_url: str) -> None:
    command.downgrade(alembic_config(db_url), "base")
    upgrade_schema(db_url)
    assert _drift(db_url) == []
