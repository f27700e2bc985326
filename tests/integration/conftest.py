"""Per-test PostgreSQL databases on the session's embedded server, and the event store in one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.embedded import EmbeddedPostgres
from engine.store.application import JourneyStore, postgres_env
from tests.integration.scratch_database import scratch_database


@pytest.fixture
def database_url(postgres: EmbeddedPostgres) -> Iterator[str]:
    """A database of its own for the test, dropped afterwards."""
    with scratch_database(postgres.url, "it") as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[JourneyStore]:
    journeys = JourneyStore(postgres_env(database_url))
    yield journeys
    journeys.close()
