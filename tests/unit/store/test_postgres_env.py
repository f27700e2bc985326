"""The event store connects with all of CARELOOP_DATABASE_URL: eventsourcing's five settings from it, and the
parameters it has no setting for (sslmode, sslrootcert, application_name...) given to its pool as they are."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from psycopg.conninfo import conninfo_to_dict

from engine.store.application import postgres_env
from engine.store.persistence import CONNINFO, CareloopPostgresFactory

URL = (
    "postgresql://care%40loop:s3cr%2Ft@db.hospital.example:6432/careloop"
    "?sslmode=verify-full&sslrootcert=/etc/careloop/pg-ca.pem&sslcert=/etc/careloop/pg.crt"
    "&sslkey=/etc/careloop/pg.key&application_name=prm-east&target_session_attrs=read-write"
)


def test_the_five_settings_come_from_the_url_percent_decoded() -> None:
    env = postgres_env(URL)
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("care@loop", "s3cr/t")
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.hospital.example",
        "6432",
        "careloop",
    )


def test_sslmode_and_the_other_parameters_of_the_url_are_kept_for_the_pool() -> None:
    assert conninfo_to_dict(postgres_env(URL)[CONNINFO]) == {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/careloop/pg-ca.pem",
        "sslcert": "/etc/careloop/pg.crt",
        "sslkey": "/etc/careloop/pg.key",
        "application_name": "prm-east",
        "target_session_attrs": "read-write",
    }


def test_a_plain_url_adds_no_parameter_and_keeps_the_old_defaults() -> None:
    env = postgres_env("postgresql://localhost/")
    assert env[CONNINFO] == ""
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_USER"], env["POSTGRES_DBNAME"]) == (
        "localhost",
        "5432",
        "postgres",
        "postgres",
    )


def test_the_store_persists_through_careloops_factory_whose_pool_connects_with_the_urls_parameters() -> None:
    factory = InfrastructureFactory.construct(postgres_env(URL))  # builds the pool without opening it
    assert isinstance(factory, CareloopPostgresFactory)
    pool = factory.datastore.pool
    assert isinstance(pool.conninfo, str) and isinstance(pool.kwargs, dict)
    assert conninfo_to_dict(pool.conninfo)["sslmode"] == "verify-full"
    assert pool.kwargs["host"] == "db.hospital.example"
