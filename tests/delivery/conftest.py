"""Fixtures of the delivery tests (helpers are in support.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy.engine import Engine

from launchops.store import make_engine
from tests.delivery.support import FakeClock, FakePlatform


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slack() -> FakePlatform:
    return FakePlatform("slack")


@pytest.fixture
def two_engines(db_url: str) -> Iterator[Sequence[Engine]]:
    """Two engines on one database: separate connection pools, as two replicas have."""
    engines = [make_engine(db_url), make_engine(db_url)]
    yield engines
    for engine in engines:
        engine.dispose()
