"""Patient identity kept in PostgreSQL: an identifier (assigning authority, value) -> the careloop patient id.

The same contract as connectors.base.InMemoryIdentity: any known identifier links the others to its patient; a
patient never seen gets the keyed pseudonym of its first identifier (engine/security/pseudonyms.py), so
re-importing is stable and a list of MRNs gives back no patient id without the key file.

``patient_identifiers`` holds no identifier in clear: a row is found by the identifier's blind index (an HMAC under
the deployment's index key), and keeps the value sealed with its patient's data key (as ``identifiers[].value``,
the field name the events seal it under). The authority names the issuer, not the person, and stays clear.

A table from an earlier careloop (identifiers in clear, ids hashed without a key) is not rewritten: its patients'
ids are in every event already stored. An empty one is replaced; one with rows is refused, saying to import into a
new database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import Connection

from engine.access.ownership import migrates
from engine.plumbing.connections import connect
from engine.security.cipher import epoch_of, reveal, seal
from engine.security.errors import ErasedError
from engine.security.patient_keys import PatientKeys
from engine.security.pseudonyms import Pseudonyms
from events.patient import Identifier

FIELD = "identifiers[].value"  # the name a sealed identifier value is bound to, as in the events
DDL = """
CREATE TABLE IF NOT EXISTS patient_identifiers (
    blind_index  text PRIMARY KEY,  -- HMAC(index key, authority \\x1f value): looks an identifier up unsaid
    authority    text NOT NULL,
    value_sealed text NOT NULL,     -- the identifier's value, sealed with the patient's data key
    patient_id   text NOT NULL,
    first_seen   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS patient_identifiers_patient ON patient_identifiers (patient_id);
CREATE TABLE IF NOT EXISTS patient_merges (
    retired_patient_id  text NOT NULL,
    survivor_patient_id text NOT NULL,
    merged_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (retired_patient_id, survivor_patient_id)
);
"""
_CLEAR_TABLE = """
SELECT 1 FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'patient_identifiers' AND column_name = 'value'
"""


class IdentityTableError(RuntimeError):
    """patient_identifiers is an earlier careloop's, with identifiers in clear; the message says what to do."""


def create_tables(conn: Connection[Any]) -> None:
    """The tables, if missing; an earlier careloop's empty table is replaced, one with rows refused. Left alone where
    `careloop roles apply` made them for another role (engine/access/ownership.py)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('patient_identifiers'))")
        if not migrates(conn, ("patient_identifiers", "patient_merges"), "the intake's patient identity"):
            return
        if conn.execute(_CLEAR_TABLE).fetchone() is not None:
            if conn.execute("SELECT 1 FROM patient_identifiers LIMIT 1").fetchone() is not None:
                raise IdentityTableError(
                    "patient_identifiers in this database is an earlier careloop's: it keeps identifiers in clear "
                    "and its patient ids were hashed without a key, and every event stored since carries them. "
                    "careloop does not rewrite them: import the hospital's data again into a new database "
                    "(CARELOOP_DATABASE_URL) with this deployment's key file"
                )
            conn.execute("DROP TABLE patient_identifiers")
        conn.execute(DDL)


class PostgresIdentity:
    def __init__(
        self, database_url: str, pseudonyms: Pseudonyms, keys: PatientKeys, name: str = "careloop-identity"
    ) -> None:
        self._pseudonyms = pseudonyms
        self._keys = keys
        self._conn = connect(database_url, name)
        try:
            create_tables(self._conn)
        except BaseException:
            self._conn.close()
            raise

    @property
    def pseudonyms(self) -> Pseudonyms:
        """The deployment's keys, for relation ids of relatives without an identifier (connectors/relations.py)."""
        return self._pseudonyms

    def resolve(self, identifiers: Sequence[Identifier]) -> str:
        if not identifiers:
            raise ValueError("a patient needs at least one identifier (authority and value)")
        indexes = [self._pseudonyms.blind_index(i.authority, i.value) for i in identifiers]
        with self._conn.transaction():
            # Lock the first identifier (or its absence) so two importers agree on one id for a new patient.
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (indexes[0],))
            known = self._known(indexes)
            first = identifiers[0]
            patient_id = next((known[k] for k in indexes if k in known), None) or self._pseudonyms.patient_id(
                first.authority, first.value
            )
            new = [(k, i) for k, i in zip(indexes, identifiers, strict=True) if k not in known]
            if new:
                self._index(patient_id, new)
        return patient_id

    def merge(self, retired: Sequence[Identifier], survivor: Sequence[Identifier]) -> tuple[str, str]:
        old = self.resolve(retired)
        new = self.resolve(survivor)
        if old == new:  # a replayed merge: answer as the first time did, so it never looks like a self-merge
            first = self._pseudonyms.patient_id(retired[0].authority, retired[0].value)
            row = self._conn.execute(
                "SELECT retired_patient_id FROM patient_merges WHERE survivor_patient_id = %s "
                "AND retired_patient_id = %s",
                (new, first),
            ).fetchone()
            return (str(row[0]) if row else old), new
        with self._conn.transaction():
            self._move(old, new)
            self._conn.execute(
                "INSERT INTO patient_merges (retired_patient_id, survivor_patient_id) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING",
                (old, new),
            )
        return old, new

    def close(self) -> None:
        self._conn.close()

    def _move(self, old: str, new: str) -> None:
        """The retired patient's identifiers to the survivor, each value sealed again with the survivor's key."""
        rows = self._conn.execute(
            "SELECT blind_index, value_sealed FROM patient_identifiers WHERE patient_id = %s FOR UPDATE", (old,)
        ).fetchall()
        if not rows:
            return
        survivor_key = self._keys.key_for(new)
        moved = []
        for index, token in rows:
            value = reveal(self._keys.key_at(old, epoch_of(token, FIELD)), token, old, FIELD)
            moved.append((new, seal(survivor_key, value, new, FIELD), index))
        with self._conn.cursor() as cur:
            cur.executemany(
                "UPDATE patient_identifiers SET patient_id = %s, value_sealed = %s WHERE blind_index = %s", moved
            )

    def _index(self, patient_id: str, new: list[tuple[str, Identifier]]) -> None:
        """Keep the patient's new identifiers, each value sealed with their key. An erased patient's are not kept:
        nothing new is kept about them, and the intake rejects their events when it seals them
        (connectors/sealing.py), until `careloop keys renew` gives them a key again."""
        try:
            key = self._keys.key_for(patient_id)
        except ErasedError:
            return
        with self._conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO patient_identifiers (blind_index, authority, value_sealed, patient_id) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (blind_index) DO NOTHING",
                [(k, i.authority, seal(key, i.value, patient_id, FIELD), patient_id) for k, i in new],
            )

    def _known(self, indexes: list[str]) -> dict[str, str]:
        rows = self._conn.execute(
            "SELECT blind_index, patient_id FROM patient_identifiers WHERE blind_index = ANY(%s)", (indexes,)
        ).fetchall()
        return {str(k): str(p) for k, p in rows}
