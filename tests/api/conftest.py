from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import create_postgres_database, drop_postgres_database


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, not migrated: the app migrates it as it starts."""
    url, name = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(name)
