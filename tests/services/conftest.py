from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from launchops.config import load_config
from launchops.services.config_sync import sync_config
from tests.conftest import CONFIG_DIR


@pytest.fixture
def synced(engine: Engine) -> Engine:
    """The example organisation loaded into a fresh store (SQLite and PostgreSQL)."""
    sync_config(engine, load_config(CONFIG_DIR), source="config", actor="test")
    return engine
