"""Every table careloop uses, created by the owner before the roles are granted on them.

Why here: each process creates its own tables when it starts, which only works under a role that may create
tables. With least privilege the deployer's owner login runs `careloop roles apply` once per release; it makes the
tables (each component's own DDL, idempotent) and then the roles and their grants on them (engine/access/roles.py).
"""

from __future__ import annotations

from typing import Any

import psycopg

from connectors.identity import create_tables as identity_tables
from engine.access import audit
from engine.dispatch.follower import create_tables as dispatch_tables
from engine.plumbing.connections import connect
from engine.security.patient_keys_postgres import create_table as patient_keys_table
from engine.store.application import JourneyStore, postgres_env
from engine.store.definitions import DDL as DEFINITIONS_DDL
from engine.worker.relay import RELAY_DDL
from projections import tracking
from projections.catalog import PROJECTIONS

SETUP = "careloop-roles"  # the application_name of the set-up's connection


def create_all(database_url: str) -> None:
    """The event store's, the worker's, the dispatcher's, the projections', the intake's and the audit's tables."""
    JourneyStore(postgres_env(database_url, pool_size=1)).close()
    with connect(database_url, SETUP) as conn:
        _components(conn)


def _components(conn: psycopg.Connection[Any]) -> None:
    dispatch_tables(conn)
    patient_keys_table(conn)
    identity_tables(conn)  # an earlier careloop's clear identifiers: replaced when empty, refused otherwise
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(DEFINITIONS_DDL)
        cur.execute(RELAY_DDL)
        tracking.register(cur, [p.name for p in PROJECTIONS])
        for p in PROJECTIONS:
            cur.execute(p.schema_sql())
        audit.create_table(cur)
