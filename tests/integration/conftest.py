"""Per-test PostgreSQL databases on the session's embedded server, and the event store in one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from engine.embedded import EmbeddedPostgres
from engine.store.application import JourneyStore, postgres_env


@pytest.fixture
def database_url(postgres: EmbeddedPostgres) -> Iterator[str]:
    """A database of its own for the test, dropped afterwards."""
    name = f"it_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield postgres.url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def store(database_url: str) -> Iterator[JourneyStore]:
    journeys = JourneyStore(postgres_env(database_url))
    yield journeys
    journeys.close()
