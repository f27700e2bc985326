"""A reader of the event store (the dispatcher, the projection runner, `careloop explain`) opens it under a role
that does not own its tables: it runs none of their DDL, which only the owner may run."""

from __future__ import annotations

import psycopg
import pytest
from eventsourcing.persistence import ProgrammingError
from psycopg import sql

from engine.store.application import JourneyStore, postgres_env
from tests.integration.access.conftest import Login


def test_a_role_that_may_only_read_the_events_opens_the_store_as_a_reader_but_not_as_its_migrator(
    store: JourneyStore, database_url: str, login: Login
) -> None:
    reader = login()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT SELECT ON careloop_events TO {}").format(sql.Identifier(reader.name)))

    JourneyStore(postgres_env(reader.url, pool_size=1, migrate=False)).close()

    with pytest.raises(ProgrammingError, match="permission denied"):
        JourneyStore(postgres_env(reader.url, pool_size=1)).close()


def test_a_reader_on_an_empty_database_creates_the_store_as_before(database_url: str) -> None:
    JourneyStore(postgres_env(database_url, pool_size=1, migrate=False)).close()

    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT to_regclass('careloop_applied_inputs') IS NOT NULL").fetchone() == (True,)
