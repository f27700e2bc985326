"""Erasure in PostgreSQL: the tables outside the event log that hold a patient, and the patients whose retention
period is over.

The read models are not here: they follow the log and delete the patient's rows on ``patient.erased``
(projections/base.py), as the dispatcher's follower does for what it derives. Here are the tables written beside
the log: the contact directory, the identifier index and its merges, and the demo inbox. A table that is not there
(its process never ran on this database) has nothing to delete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from psycopg import Connection, sql

from engine.plumbing.kept_connection import KeptConnection

# table -> the columns that name a patient (a row naming the patient in any of them goes)
PATIENT_TABLES: Mapping[str, tuple[str, ...]] = {
    "dispatch_contacts": ("patient_id",),  # the contact directory (sealed names and addresses)
    "patient_identifiers": ("patient_id",),  # the identifier index (blind indexes and sealed values)
    "patient_merges": ("retired_patient_id", "survivor_patient_id"),
    "outreach_demo_inbox": ("patient_id",),  # messages as the demo's patients would have received them
    "dispatch_relative_contacts": ("patient_id",),  # the patient's relatives' contacts (sealed under relation keys)
}
# table -> the columns that name a patient and one relative of theirs (erasing one relative deletes those rows)
RELATIVE_TABLES: Mapping[str, tuple[str, str]] = {
    "dispatch_relative_contacts": ("patient_id", "relation_id"),
}

# Each patient's last activity: the arrival (or decision) time of their latest event in the store, read from the
# stored JSON (eventsourcing's, the careloop event under "payload"). A scan of the whole log: run it daily, not
# more (docs/security.md, Erasure).
_LAST_ACTIVITY = """
SELECT a.patient_id, a.last_at FROM (
    SELECT p ->> 'patient_id' AS patient_id, max((p ->> 'recorded_at')::timestamptz) AS last_at
    FROM careloop_events e CROSS JOIN LATERAL (SELECT convert_from(e.state, 'UTF8')::json -> 'payload' AS p) AS r
    GROUP BY 1
) AS a
WHERE a.last_at < %s AND NOT EXISTS (
    SELECT 1 FROM careloop_patient_keys k WHERE k.patient_id = a.patient_id AND k.erased_at IS NOT NULL
)
ORDER BY a.last_at, a.patient_id
"""


# The ids merged into a patient, however many merges ago (A40 of A40s): their records are the same person's.
_MERGED_INTO = """
WITH RECURSIVE merged(patient_id) AS (
    SELECT retired_patient_id FROM patient_merges WHERE survivor_patient_id = %s
    UNION
    SELECT m.retired_patient_id FROM patient_merges m JOIN merged ON m.survivor_patient_id = merged.patient_id
)
SELECT patient_id FROM merged ORDER BY patient_id
"""


# The links other patients recorded naming a patient as their relative (projections/relationships, issue 18).
_NAMING = """
SELECT patient_id, relation_id FROM relationships WHERE related_patient_id = %s ORDER BY patient_id, relation_id
"""


class PostgresPatientTables:
    def __init__(self, database_url: str, *, name: str = "careloop-erase") -> None:
        self._db = KeptConnection(database_url, name)

    def remove(self, patient_id: str) -> dict[str, int]:
        """Delete the patient's rows from every table there is, in one transaction; how many from each."""
        conn = self._db.connection
        removed: dict[str, int] = {}
        with conn.transaction():
            for table in present(conn, PATIENT_TABLES):
                columns = PATIENT_TABLES[table]
                query = sql.SQL("DELETE FROM {} WHERE {}").format(
                    sql.Identifier(table),
                    sql.SQL(" OR ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns),
                )
                removed[table] = conn.execute(query, [patient_id] * len(columns)).rowcount
        return removed

    def remove_relation(self, patient_id: str, relation_id: str) -> dict[str, int]:
        """Delete one relative's rows of the patient's from every table there is, in one transaction."""
        conn = self._db.connection
        removed: dict[str, int] = {}
        with conn.transaction():
            for table in present(conn, RELATIVE_TABLES):
                patient, relation = RELATIVE_TABLES[table]
                query = sql.SQL("DELETE FROM {} WHERE {} = %s AND {} = %s").format(
                    sql.Identifier(table), sql.Identifier(patient), sql.Identifier(relation)
                )
                removed[table] = conn.execute(query, (patient_id, relation_id)).rowcount
        return removed

    def relations_naming(self, patient_id: str) -> list[tuple[str, str]]:
        """(subject, relation id) of every link in the relationships read model naming ``patient_id`` as the
        related patient (none where the read model is not there)."""
        conn = self._db.connection
        if not present(conn, ("relationships",)):
            return []
        return [(str(subject), str(rel)) for subject, rel in conn.execute(_NAMING, (patient_id,)).fetchall()]

    def merged_into(self, patient_id: str) -> list[str]:
        """The patient ids merged into ``patient_id`` (duplicates of the same person), each only once."""
        conn = self._db.connection
        if not present(conn, ("patient_merges",)):
            return []
        return [str(pid) for (pid,) in conn.execute(_MERGED_INTO, (patient_id,)).fetchall() if pid != patient_id]

    def expired(self, before: datetime) -> list[tuple[str, datetime]]:
        """(patient id, last activity) of every patient not erased whose last activity is before ``before``, the
        longest idle first."""
        conn = self._db.connection
        if present(conn, ("careloop_events", "careloop_patient_keys")) != ["careloop_events", "careloop_patient_keys"]:
            return []  # no event stored yet, or no key table (the shredder creates it on connecting)
        return [(str(pid), at) for pid, at in conn.execute(_LAST_ACTIVITY, (before,)).fetchall()]

    @property
    def connection(self) -> Connection[Any]:
        """The kept connection (autocommit), for the audit row written before the erasure."""
        return self._db.connection

    def login(self) -> str:
        """The PostgreSQL login erasing: the authenticated caller (each person connects as their own)."""
        row = self._db.execute("SELECT session_user").fetchone()
        return str(row[0]) if row else "unknown"

    def close(self) -> None:
        self._db.close()


def present(conn: Connection[Any], tables: Iterable[str]) -> list[str]:
    """Those of ``tables`` that exist in the connection's search path, in the order given."""
    names = list(tables)
    rows = conn.execute("SELECT t, to_regclass(t) IS NOT NULL FROM unnest(%s::text[]) AS t", (names,)).fetchall()
    found = {str(t) for t, exists in rows if exists}
    return [t for t in names if t in found]
