"""Each process's set-up under its own login, after `careloop roles apply`: it runs none of the DDL of the tables the
owner made, does what it starts with (the worker its journeys, the runner its tracking rows), and, where a table it
needs is missing and it may not create it, refuses to start, saying to run `careloop roles apply`."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from engine.access.ownership import TablesNotReadyError, migrates
from engine.cli.main import app
from engine.demo.overlay import Holdout, with_global_holdout
from engine.dispatch.follower import create_tables as dispatch_tables
from engine.embedded import EmbeddedBroker
from engine.language.loader import load_catalog
from engine.security.patient_keys_postgres import create_table as patient_keys_table
from engine.security.secrets import create_key_file
from engine.store.application import JourneyStore, writer_env
from engine.store.definitions import deploy
from engine.worker.relay import EngineRelay
from projections.catalog import PROJECTIONS
from projections.runner import Runner
from projections.source import StoreSource
from tests.integration.access.conftest import Login, refused, rows

ROOT = Path(__file__).resolve().parents[3]
ROLES_APPLY = "run `careloop roles apply` as the owner of careloop's tables first"


def test_the_worker_opens_the_store_deploys_its_journeys_and_keeps_the_relay_without_any_ddl(
    careloop_db: str, login: Login
) -> None:
    worker = login("careloop_worker")

    env = writer_env(worker.url, pool_size=1)
    store = JourneyStore(env)
    try:
        catalog = deploy(worker.url, load_catalog(ROOT / "journeys.yaml"))
        relay = EngineRelay(worker.url, store)
        assert relay.position() == 0
        relay.advance(0)
        relay.close()
    finally:
        store.close()

    assert env["CREATE_TABLE"] == "n"
    assert len(rows(worker, "SELECT * FROM careloop_journey_definitions")) == len(catalog.versions) > 0
    assert owned_by(careloop_db, worker.name) == []


def test_the_worker_records_its_global_holdout_under_its_login_and_the_analyst_reads_it_in_the_analytics_schema(
    careloop_db: str, login: Login, tmp_path: Path
) -> None:
    worker, analyst = login("careloop_worker"), login("careloop_analyst")
    journeys = with_global_holdout(ROOT / "journeys.yaml", tmp_path / "journeys.yaml", Holdout("h-2026", 5, "s1"))

    deploy(worker.url, load_catalog(journeys))
    deploy(worker.url, load_catalog(ROOT / "journeys.yaml"))  # switched off: it stays recorded

    shown = rows(
        analyst,
        "SELECT id, kind, salt, share_bp, categories, exempt_journeys, preempt_priority, switched_off_at IS NOT NULL "
        "FROM analytics.experiments",
    )
    assert shown == [("h-2026", "global_holdout", "s1", 500, ["care", "marketing"], [], 80, True)]
    assert refused(analyst, "SELECT * FROM careloop_experiments")
    assert owned_by(careloop_db, worker.name) == []


def test_the_owner_still_migrates_the_store_it_owns(careloop_db: str) -> None:
    assert writer_env(careloop_db, pool_size=1)["CREATE_TABLE"] == "y"


def test_the_dispatcher_and_the_patients_keys_leave_their_tables_alone_under_the_dispatchers_login(
    careloop_db: str, login: Login
) -> None:
    dispatcher = login("careloop_dispatcher")
    with psycopg.connect(dispatcher.url, autocommit=True) as conn:
        dispatch_tables(conn)
        patient_keys_table(conn)

    assert rows(dispatcher, "SELECT position FROM dispatch_tracking") == [(0,)]
    assert owned_by(careloop_db, dispatcher.name) == []


def test_the_projection_runner_sets_up_under_its_login_and_adds_the_tracking_row_of_a_new_projection(
    careloop_db: str, login: Login
) -> None:
    runner = login("careloop_projections")
    with psycopg.connect(careloop_db, autocommit=True) as conn:  # a projection added since the roles were applied
        conn.execute("DELETE FROM projection_tracking WHERE name = %s", (PROJECTIONS[0].name,))
    store = JourneyStore(writer_env(careloop_db, pool_size=1))
    try:
        Runner(runner.url, StoreSource(store), PROJECTIONS).__enter__().close()
    finally:
        store.close()

    assert sorted(str(n) for (n,) in rows(runner, "SELECT name FROM projection_tracking")) == sorted(
        p.name for p in PROJECTIONS
    )
    assert owned_by(careloop_db, runner.name) == []


def test_a_process_login_on_a_database_without_the_tables_is_told_to_apply_the_roles(
    database_url: str, login: Login
) -> None:
    worker = login()  # a process's login, on a database where no one applied the roles
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # as PostgreSQL 15 and later have it

    with pytest.raises(TablesNotReadyError, match=ROLES_APPLY) as refused:
        writer_env(worker.url, pool_size=1)

    assert "careloop_events" in str(refused.value) and worker.name in str(refused.value)
    assert owned_by(database_url, worker.name) == []


@pytest.mark.parametrize("command", [["worker"], ["projections", "run"], ["dispatch"]], ids=" ".join)
def test_a_process_started_under_its_login_before_the_roles_were_applied_refuses_naming_the_command(
    database_url: str, broker: EmbeddedBroker, login: Login, tmp_path: Path, command: list[str]
) -> None:
    process = login()
    key_file = tmp_path / "careloop.keys"
    create_key_file(key_file)  # as `careloop keys init` makes it
    run_as_owner(database_url, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    env = {
        "CARELOOP_DATABASE_URL": process.url,
        "CARELOOP_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CARELOOP_KEY_FILE": str(key_file),
        "CARELOOP_DATA_DIR": str(tmp_path),
        "CARELOOP_JOURNEYS": str(ROOT / "journeys.yaml"),
        "CARELOOP_TOPIC_PREFIX": f"refused-{tmp_path.name[-10:]}",
    }

    result = CliRunner().invoke(app, command, env=env)

    assert result.exit_code != 0
    shown = " ".join((result.stdout + result.stderr).split())  # the message as one line, however it was wrapped
    assert ROLES_APPLY in shown and process.name in shown and "careloop_events" in shown
    assert owned_by(database_url, process.name) == []


def test_a_table_missing_beside_the_owners_is_refused_rather_than_made_by_the_process(
    careloop_db: str, login: Login
) -> None:
    runner = login("careloop_projections")
    run_as_owner(careloop_db, "DROP TABLE churn_levels CASCADE")  # say, an older release's database

    with psycopg.connect(runner.url) as conn, pytest.raises(TablesNotReadyError, match=ROLES_APPLY) as refused:
        migrates(conn, ["churn_flags", "churn_levels"], "the projection runner")

    assert "churn_levels" in str(refused.value) and "churn_flags of another role" in str(refused.value)


def owned_by(database_url: str, login: str) -> list[str]:
    """The relations ``login`` owns in the database: a process that made a table of its own would own it."""
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = %s", (login,)
        ).fetchall()
    return [str(name) for (name,) in found]


def run_as_owner(database_url: str, statement: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(statement)
