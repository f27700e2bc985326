"""The journey store: the only place that loads and saves patient aggregates."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Recording, StoredEvent
from eventsourcing.utils import get_topic
from psycopg.conninfo import make_conninfo

from engine.access.ownership import migrates
from engine.plumbing.connections import connect
from engine.store import applied, snapshots
from engine.store.aggregate import RECORDED_TOPIC, PatientJourneys, patient_aggregate_id
from engine.store.persistence import CONNINFO, CareloopPostgresFactory, other_parameters, url_parameters
from engine.store.recorder import CareloopRecorder, Commit
from engine.store.schema import create_engine_tables
from engine.store.transcoder import CareloopTranscoder

log = structlog.get_logger("careloop.store")


def postgres_env(database_url: str, pool_size: int = 5, *, migrate: bool = True) -> dict[str, str]:
    """eventsourcing reads its PostgreSQL settings from an environment mapping; derive it from one URL, all of it:
    the parameters eventsourcing has no setting for (sslmode, sslrootcert, application_name...) go to its pool
    through engine/store/persistence.py. ``migrate=False``, for a reader of the store (the dispatcher, the projection
    runner, `careloop explain`): the store's tables are created if missing, but existing ones are left as they are,
    since a reader's role does not own them (engine/access gives them to the worker's role)."""
    scheme = urlsplit(database_url).scheme
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(f"database URL must start with postgresql://, got {scheme!r}")
    params = url_parameters(database_url)
    return {
        "PERSISTENCE_MODULE": get_topic(CareloopPostgresFactory),
        # The library's own saves (outside the batch commit) through its insert function (BENCHMARKS.md).
        "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
        "POSTGRES_DBNAME": params.get("dbname") or "postgres",
        "POSTGRES_HOST": params.get("host") or "127.0.0.1",
        "POSTGRES_PORT": params.get("port") or "5432",
        "POSTGRES_USER": params.get("user") or "postgres",
        "POSTGRES_PASSWORD": params.get("password") or "",
        CONNINFO: other_parameters(params),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_LOCK_TIMEOUT": "10",
        "APPLICATION_RECORDER_TOPIC": get_topic(CareloopRecorder),
        "TRANSCODER_TOPIC": get_topic(CareloopTranscoder),  # the careloop events' JSON written faster, read as ever
        "CREATE_TABLE": "y" if migrate else "n",
    }


# LATERAL makes it one index range scan per patient: as a plain join PostgreSQL chose a merge join walking the
# primary key from the smallest id in the batch to the largest, slow on a large store (BENCHMARKS.md).
EVENTS_AFTER = (
    "SELECT e.originator_id, e.originator_version, e.topic, e.state "
    "FROM unnest(%s::uuid[], %s::bigint[]) AS s(id, after) CROSS JOIN LATERAL ("
    "SELECT originator_id, originator_version, topic, state FROM careloop_events "
    "WHERE originator_id = s.id AND originator_version > s.after ORDER BY originator_version) AS e"
)
SCHEMA_LOCK = 0x6361_7265_6C6F_6F71  # one schema set-up at a time per database
SCHEMA_SETUP = "careloop-store-setup"  # the application_name of the connection holding the set-up lock
# The store's tables: eventsourcing's events table, the engine's tables beside it, the applied inputs last.
STORE_TABLES = (
    "careloop_events",
    "careloop_offsets",
    "careloop_timers",
    "careloop_hand_overs",
    "careloop_clock",
    "careloop_snapshots",
    applied.TABLE,
)


def writer_env(database_url: str, pool_size: int = 5) -> dict[str, str]:
    """postgres_env for the store's writer (the worker): it migrates the store where its login may (the tables
    missing, or its own), and leaves alone the tables `careloop roles apply` made (engine/access/ownership.py).
    TablesNotReadyError when a table is missing and this login may not create it."""
    env = postgres_env(database_url, pool_size)  # the URL checked first
    with connect(database_url, SCHEMA_SETUP) as conn:
        migrate = migrates(conn, STORE_TABLES, "the worker's journey store")
    return {**env, "CREATE_TABLE": "y" if migrate else "n"}


def _conninfo(env: dict[str, str]) -> str:
    # The store is configured by eventsourcing's environment mapping (postgres_env), so the connection string is
    # made from the same settings its pool connects with.
    return make_conninfo(
        env.get(CONNINFO, ""),
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
    )


@contextmanager
def _schema_lock(env: dict[str, str]) -> Iterator[None]:
    with connect(_conninfo(env), SCHEMA_SETUP) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        yield  # released when the connection closes


def _created(env: dict[str, str]) -> bool:
    """Whether the store's tables are there (the last one its set-up creates). TablesNotReadyError, naming
    `careloop roles apply`, when they are not and this login may not create them."""
    with connect(_conninfo(env), SCHEMA_SETUP) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (applied.TABLE,)).fetchone()
        if row and row[0]:
            return True
        migrates(conn, STORE_TABLES, "the journey store")
    return False


class JourneyStore(Application[UUID]):
    name = "careloop"  # the events table is careloop_events

    def __init__(self, env: dict[str, str]) -> None:
        if env.get("CREATE_TABLE") == "n" and _created(env):  # a reader's (postgres_env): the tables are there
            super().__init__(env)
            return
        env = {**env, "CREATE_TABLE": "y"}
        # Processes starting together (worker, projections, dispatcher) would otherwise run the library's
        # CREATE OR REPLACE FUNCTION and our DDL at once, which PostgreSQL refuses ("tuple concurrently updated").
        with _schema_lock(env):
            super().__init__(env)
            readable = not (self.mapper.cipher or self.mapper.compressor)
            with self.recorder.datastore.transaction(commit=True) as curs:  # type: ignore[attr-defined]
                create_engine_tables(curs)
                curs.execute(snapshots.SNAPSHOT_DDL)
                filled = applied.create(curs, RECORDED_TOPIC, readable)
        if filled:
            log.info("applied inputs recorded from the events already stored", inputs=filled)

    def load(self, patient_ids: Iterable[str]) -> dict[str, PatientJourneys]:
        """The patients' aggregates, new ones opened (not yet saved) for patients never seen: each from its
        snapshot, if one of this schema version is stored, and the events after it; two queries for them all."""
        pids = list(dict.fromkeys(patient_ids))
        if not pids:
            return {}
        ids = [patient_aggregate_id(pid) for pid in pids]
        with self.datastore().get_connection() as conn:
            found = snapshots.read(conn, ids)
            after = [found[i].version if i in found else 0 for i in ids]
            rows = conn.execute(EVENTS_AFTER, (ids, after)).fetchall()
        for r in rows:
            stored = StoredEvent(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
            found[r["originator_id"]] = self.mapper.to_domain_event(stored).mutate(found.get(r["originator_id"]))
        return {pid: found.get(i) or PatientJourneys(pid) for pid, i in zip(pids, ids, strict=True)}

    def applied(self, inputs: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of ``inputs`` (patient id, input event id) the store already holds: applied, never again."""
        with self.datastore().get_connection() as conn:
            return applied.select(conn, inputs)

    def commit(self, aggregates: Iterable[PatientJourneys], commit: Commit) -> list[Recording[UUID]]:
        """Every new event of every aggregate, plus offsets and timers, in one transaction; what was recorded,
        with the notification ids it was given."""
        return self.save(*aggregates, commit=commit)

    def datastore(self) -> Any:
        return self.recorder.datastore  # type: ignore[attr-defined]
