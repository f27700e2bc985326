"""Real round trips through the embedded PostgreSQL with psycopg 3, including a restart."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from engine.embedded import EmbeddedPostgres, EmbeddedServiceError

pytestmark = pytest.mark.integration


def test_the_url_points_at_postgresql_18_as_the_configured_user_and_database(postgres: EmbeddedPostgres) -> None:
    assert postgres.url.startswith(f"postgresql://{postgres.user}@127.0.0.1:")
    with psycopg.connect(postgres.url) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int, current_user, current_database()")
        version, user, database = row.fetchone() or (0, "", "")
    assert version // 10_000 == 18
    assert (user, database) == (postgres.user, postgres.database)


def test_a_row_written_to_a_new_table_reads_back(postgres: EmbeddedPostgres) -> None:
    with psycopg.connect(postgres.url) as conn:
        conn.execute("CREATE TABLE patients_round_trip (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO patients_round_trip VALUES (%s, %s)", (1, "Ana Souza"))
        conn.commit()
    with psycopg.connect(postgres.url) as conn:
        rows = conn.execute("SELECT id, name FROM patients_round_trip").fetchall()
    assert rows == [(1, "Ana Souza")]


def test_committed_rows_survive_a_stop_and_a_restart_on_the_same_data_dir(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path) as first, psycopg.connect(first.url) as conn:
        conn.execute("CREATE TABLE journeys (patient text, step text)")
        conn.execute("INSERT INTO journeys VALUES ('p-1', 'reminder sent')")
        conn.commit()
    assert (tmp_path / "pgdata" / "PG_VERSION").is_file()

    # A new object, as after a careloop restart: it must reuse the directory, not re-run initdb.
    with EmbeddedPostgres(tmp_path) as second, psycopg.connect(second.url) as conn:
        rows = conn.execute("SELECT patient, step FROM journeys").fetchall()
    assert rows == [("p-1", "reminder sent")]


def test_stop_is_clean_even_with_a_client_still_connected(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path, stop_timeout=10.0)
    lingering = psycopg.connect(server.start())
    try:
        server.stop()
        assert not server.running
    finally:
        lingering.close()
    log = (tmp_path / "postgres.log").read_text()
    assert "received fast shutdown request" in log
    assert log.rstrip().endswith("database system is shut down")


def test_a_server_that_cannot_bind_its_port_fails_with_an_error_naming_its_log(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = EmbeddedPostgres(tmp_path, port=squatter.getsockname()[1], start_timeout=10.0)
        with pytest.raises(EmbeddedServiceError, match=r"postgres\.log") as raised:
            server.start()
    assert str(tmp_path / "postgres.log") in str(raised.value)
    assert not server.running


def test_a_directory_that_is_not_a_data_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pgdata").mkdir()
    with pytest.raises(EmbeddedServiceError, match="not a PostgreSQL data directory"):
        EmbeddedPostgres(tmp_path).start()
