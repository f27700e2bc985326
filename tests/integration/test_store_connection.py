"""The event store's pool connects as CARELOOP_DATABASE_URL says, query parameters included, on a real PostgreSQL:
the server sees the URL's application_name, and sslmode=require is enforced (the embedded server has no TLS, so
the store refuses to connect in clear rather than dropping the setting)."""

from __future__ import annotations

import psycopg
import pytest

from engine.store.application import JourneyStore, postgres_env

pytestmark = pytest.mark.integration


def test_the_stores_connections_carry_the_urls_application_name(database_url: str) -> None:
    store = JourneyStore(postgres_env(database_url + "?application_name=prm-east-worker", pool_size=1))
    try:
        with store.datastore().get_connection() as conn:
            row = conn.execute("SELECT current_setting('application_name') AS name").fetchone()
        assert row is not None and row["name"] == "prm-east-worker"
    finally:
        store.close()


def test_a_store_told_to_require_tls_does_not_connect_to_a_server_without_it(database_url: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="server does not support SSL"):
        JourneyStore(postgres_env(database_url + "?sslmode=require&connect_timeout=5", pool_size=1))
