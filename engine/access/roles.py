"""careloop's PostgreSQL roles: created, granted and bound by row-level security by ``roles.sql``, which the owner
runs after creating every table (tables.py). NOLOGIN group roles: a deployer grants them to login roles, one per
person or process, so that the audit trail (audit.py) names who read what.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg import Connection

from engine.access import tables
from engine.plumbing.connections import connect
from projections.catalog import PROJECTIONS

# role -> who gets it (docs/access.md has what each may read and write)
ROLES = {
    "careloop_worker": "the journey worker's login (careloop worker)",
    "careloop_dispatcher": "the dispatcher's login (careloop dispatch)",
    "careloop_intake": "the intakes' login (careloop publish, mllp, fhir-intake, webhook, outreach)",
    "careloop_projections": "the projection runner's login (careloop projections)",
    "careloop_care_team": "each care team member's own login (careloop tasks, careloop explain)",
    "careloop_analyst": "each analyst's own login (the analytics schema)",
    "careloop_auditor": "each auditor's own login (careloop audit)",
    "careloop_eraser": "the login that erases patients (careloop erase, and its daily --expired)",
    "careloop_key_custodian": "whoever holds the key file (careloop keys rotate, rewrap, renew)",
    "careloop_loyalty_desk": "the loyalty desk's staff, each their own login, and careloop loyalty-api's",
}
LOCK = "careloop-roles"  # one apply at a time per database


class NotOwnerError(RuntimeError):
    """The login applying the roles may not create careloop's tables or roles."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}: run `careloop roles apply` as the owner of careloop's tables, with CREATEROLE")


ANALYTICS_GRANTS = """
GRANT USAGE ON SCHEMA analytics TO careloop_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO careloop_analyst;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA analytics TO careloop_analyst;
"""


def roles_sql() -> str:
    """roles.sql, the projection runner's grants on every read model's tables, then the analytics views
    (analytics_*.sql in name order: a later file may use an earlier one's views) and the analysts' grants on them."""
    here = resources.files(__package__ or "engine.access")
    views = sorted(
        (f for f in here.iterdir() if f.name.startswith("analytics_") and f.name.endswith(".sql")), key=lambda f: f.name
    )
    return "\n".join(
        [
            here.joinpath("roles.sql").read_text(encoding="utf-8"),
            projection_grants(),
            *(f.read_text(encoding="utf-8") for f in views),
            ANALYTICS_GRANTS,
        ]
    )


def projection_grants() -> str:
    """The projection runner owns the rows of every projection's tables (TRUNCATE: a rebuild)."""
    names = sorted({t for p in PROJECTIONS for t in p.tables})
    return (
        f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {', '.join(names)} TO careloop_projections;"
        if names
        else ""
    )


def apply(database_url: str) -> None:
    """Every table, then the roles, their grants, the row-level security and the analytics schema (idempotent).
    Run by the owner of careloop's tables, a login that may also create roles (CREATEROLE)."""
    try:
        tables.create_all(database_url)
        with connect(database_url, tables.SETUP) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (LOCK,))
            conn.execute(roles_sql())
    except (psycopg.errors.InsufficientPrivilege, PersistenceError) as exc:
        # the event store's set-up reports a refusal as eventsourcing's error, with PostgreSQL's as its cause
        refusal = exc if isinstance(exc, psycopg.Error) else exc.__cause__
        if not isinstance(refusal, psycopg.errors.InsufficientPrivilege):
            raise
        raise NotOwnerError(str(refusal).strip()) from exc


def set_queues(conn: Connection[Any], login: str, queues: Iterable[str]) -> None:
    """The task queues ``login`` works on, replacing those it had (none: it sees no queue's tasks or contacts)."""
    chosen = sorted(set(queues))
    with conn.transaction():
        conn.execute("DELETE FROM careloop_queue_members WHERE login = %s", (login,))
        conn.execute(
            "INSERT INTO careloop_queue_members (login, queue) SELECT %s, q FROM unnest(%s::text[]) AS q",
            (login, chosen),
        )


def queues(conn: Connection[Any]) -> dict[str, list[str]]:
    """Every login's queues."""
    found: dict[str, list[str]] = {}
    for login, queue in conn.execute("SELECT login, queue FROM careloop_queue_members ORDER BY login, queue"):
        found.setdefault(login, []).append(queue)
    return found
