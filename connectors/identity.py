"""Patient identity kept in PostgreSQL: (assigning authority, identifier) -> canonical careloop patient id.

The same contract as connectors.base.InMemoryIdentity: any known identifier links the others to its patient;
a patient never seen gets an id derived from its first identifier, so re-importing is stable.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import canonical_id
from engine.plumbing.connections import connect
from events.patient import Identifier

DDL = """
CREATE TABLE IF NOT EXISTS patient_identifiers (
    authority  text NOT NULL,
    value      text NOT NULL,
    patient_id text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (authority, value)
);
CREATE INDEX IF NOT EXISTS patient_identifiers_patient ON patient_identifiers (patient_id);
CREATE TABLE IF NOT EXISTS patient_merges (
    retired_patient_id  text NOT NULL,
    survivor_patient_id text NOT NULL,
    merged_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (retired_patient_id, survivor_patient_id)
);
"""


class PostgresIdentity:
    def __init__(self, database_url: str, name: str = "careloop-identity") -> None:
        self._conn = connect(database_url, name)
        self._conn.execute(DDL)

    def resolve(self, identifiers: Sequence[Identifier]) -> str:
        if not identifiers:
            raise ValueError("a patient needs at least one identifier (authority and value)")
        keys = [(i.authority, i.value) for i in identifiers]
        with self._conn.transaction():
            # Lock the identifiers' rows (or their absence) so two importers agree on one id for a new patient.
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{keys[0][0]}|{keys[0][1]}",))
            known = self._known(keys)
            patient_id = next((known[k] for k in keys if k in known), None) or canonical_id(keys[0])
            with self._conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO patient_identifiers (authority, value, patient_id) VALUES (%s, %s, %s) "
                    "ON CONFLICT (authority, value) DO NOTHING",
                    [(a, v, patient_id) for a, v in keys if (a, v) not in known],
                )
        return patient_id

    def merge(self, retired: Sequence[Identifier], survivor: Sequence[Identifier]) -> tuple[str, str]:
        old = self.resolve(retired)
        new = self.resolve(survivor)
        if old == new:  # a replayed merge: answer as the first time did, so it never looks like a self-merge
            row = self._conn.execute(
                "SELECT retired_patient_id FROM patient_merges WHERE survivor_patient_id = %s "
                "AND retired_patient_id = %s",
                (new, canonical_id((retired[0].authority, retired[0].value))),
            ).fetchone()
            return (str(row[0]) if row else old), new
        if old != new:
            with self._conn.transaction():
                self._conn.execute("UPDATE patient_identifiers SET patient_id = %s WHERE patient_id = %s", (new, old))
                self._conn.execute(
                    "INSERT INTO patient_merges (retired_patient_id, survivor_patient_id) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (old, new),
                )
        return old, new

    def close(self) -> None:
        self._conn.close()

    def _known(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        rows = self._conn.execute(
            "SELECT authority, value, patient_id FROM patient_identifiers "
            "WHERE (authority, value) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
            ([a for a, _ in keys], [v for _, v in keys]),
        ).fetchall()
        return {(str(a), str(v)): str(p) for a, v, p in rows}
