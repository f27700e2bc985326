"""PostgreSQL connections from one place (engine/plumbing/connections.py): the operator's URL as given, named for the
process that holds the connection."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict

from engine.plumbing.connections import conninfo

URL = "postgresql://careloop:s3cret@db.hospital.example:6432/careloop?sslmode=verify-full&sslrootcert=/etc/ca.pem"


def test_a_connection_keeps_every_setting_of_the_url_and_names_its_process() -> None:
    params = conninfo_to_dict(conninfo(URL, "careloop-dispatcher"))
    assert params == {
        "user": "careloop",
        "password": "s3cret",
        "host": "db.hospital.example",
        "port": "6432",
        "dbname": "careloop",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.pem",
        "application_name": "careloop-dispatcher",
    }


def test_an_application_name_in_the_url_is_the_operators_choice_and_wins() -> None:
    params = conninfo_to_dict(conninfo(URL + "&application_name=prm-east", "careloop-worker"))
    assert params["application_name"] == "prm-east"


def test_a_connect_timeout_is_added_only_when_asked_for() -> None:
    assert "connect_timeout" not in conninfo_to_dict(conninfo(URL, "careloop-projections"))
    assert conninfo_to_dict(conninfo(URL, "careloop-projections", connect_timeout=10))["connect_timeout"] == "10"
