"""The audit trail: every read of patient data through careloop leaves a row in ``careloop_audit`` first.

Who is PostgreSQL's ``session_user``, set by the server (a trigger overwrites whatever an insert says), never a
command-line flag: each person connects with their own login. The row is written before anything is shown, in its
own statement (autocommitted): a reader that may not write the audit trail reads nothing.

``detail`` is for what identifies nobody (counts, options): never a name, contact, identifier or free text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from psycopg import Connection, Cursor, errors, sql

TABLE = "careloop_audit"
PURPOSES = {
    "care": "treating the patient or coordinating their care",
    "operations": "running careloop: why a journey did what it did",
    "audit": "reviewing access to patient data",
    "erasure": "erasing a patient on request or at the end of retention",
}
MIN_RETENTION_DAYS = 183  # six months: China's Cybersecurity Law keeps network logs at least that long


class PurposeError(ValueError):
    """A purpose that is not one of PURPOSES."""

    def __init__(self, purpose: str) -> None:
        super().__init__(f"unknown purpose {purpose!r}: expected one of {', '.join(PURPOSES)}")


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    who: str
    patient_id: str | None
    action: str
    purpose: str
    detail: str


def schema_sql() -> str:
    return resources.files(__package__ or "engine.access").joinpath("audit.sql").read_text(encoding="utf-8")


def create_table(cur: Cursor[Any]) -> None:
    """The table, its triggers and the expiry function (idempotent); the owner runs it."""
    cur.execute(schema_sql())


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise PurposeError(purpose)
    return purpose


def record(conn: Connection[Any], patient_id: str | None, action: str, purpose: str, detail: str = "") -> None:
    """One read of one patient's data (``patient_id`` None: a read that named none)."""
    record_many(conn, [patient_id], action, purpose, detail)


def record_many(
    conn: Connection[Any], patient_ids: Iterable[str | None], action: str, purpose: str, detail: str = ""
) -> None:
    """One row per patient read at once (a task list shows several), in one statement. Where the trail is missing
    (a database `careloop roles apply` never ran on: the embedded stack) it is created first, if the login may."""
    ids = list(dict.fromkeys(patient_ids))
    check_purpose(purpose)
    try:
        _insert(conn, ids, action, purpose, detail)
    except errors.UndefinedTable:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
            create_table(cur)
        _insert(conn, ids, action, purpose, detail)


def _insert(conn: Connection[Any], ids: list[str | None], action: str, purpose: str, detail: str) -> None:
    with conn.transaction():
        conn.execute(
            f"INSERT INTO {TABLE} (patient_id, action, purpose, detail) "
            "SELECT p, %s, %s, %s FROM unnest(%s::text[]) AS p",
            (action, purpose, detail, ids),
        )


def entries(
    conn: Connection[Any], *, patient_id: str | None = None, who: str | None = None, since: datetime | None = None
) -> list[Entry]:
    """The rows matching every filter given, oldest first."""
    conditions: list[sql.Composable] = [sql.SQL("true")]
    params: list[Any] = []
    for column, value in (("patient_id", patient_id), ("who", who)):
        if value is not None:
            conditions.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    if since is not None:
        conditions.append(sql.SQL("at >= %s"))
        params.append(since)
    query = sql.SQL("SELECT at, who, patient_id, action, purpose, detail FROM {} WHERE {} ORDER BY at, id").format(
        sql.Identifier(TABLE), sql.SQL(" AND ").join(conditions)
    )
    return [Entry(*row) for row in conn.execute(query, params).fetchall()]


def expire(conn: Connection[Any], keep_days: int) -> int:
    """Delete the rows older than ``keep_days`` (at least MIN_RETENTION_DAYS) through the table's own function."""
    if keep_days < MIN_RETENTION_DAYS:
        raise ValueError(f"the audit retention must be at least {MIN_RETENTION_DAYS} days, not {keep_days}")
    row = conn.execute("SELECT careloop_audit_expire(make_interval(days => %s))", (keep_days,)).fetchone()
    return int(row[0]) if row else 0
