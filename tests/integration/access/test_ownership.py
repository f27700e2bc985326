"""A process runs a table's DDL only where it may: when the table is missing, or when its login owns it."""

from __future__ import annotations

import psycopg

from engine.access.ownership import may_migrate
from tests.integration.access.conftest import Login


def test_the_owner_migrates_its_tables_and_anyone_creates_a_missing_one(careloop_db: str) -> None:
    with psycopg.connect(careloop_db) as conn:
        assert may_migrate(conn, "careloop_timers")
        assert may_migrate(conn, "a_table_not_made_yet")


def test_a_process_login_leaves_the_tables_the_owner_made_alone(careloop_db: str, login: Login) -> None:
    worker = login("careloop_worker")
    with psycopg.connect(worker.url) as conn:
        assert not may_migrate(conn, "careloop_timers")
        assert not may_migrate(conn, "careloop_events")
        assert may_migrate(conn, "a_table_not_made_yet")


def test_a_login_that_has_the_owners_role_migrates_like_the_owner(careloop_db: str, login: Login) -> None:
    with psycopg.connect(careloop_db) as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'careloop_timers'").fetchone()
    assert owner is not None
    deployer = login(owner[0])
    with psycopg.connect(deployer.url) as conn:
        assert may_migrate(conn, "careloop_timers")
