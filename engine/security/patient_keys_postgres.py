"""The PatientKeys port in PostgreSQL: ``careloop_patient_keys``, one row per patient, describing the patient's
latest key epoch (engine/security/patient_keys.py says what the port promises).

A row is never deleted: an erased patient keeps a row with no key, so no process makes them a new one unasked.
Rows are only ever inserted once and then changed under their row lock, so creating a key needs no lock of its own:
two intakes creating the same patient's key at once insert one row, and the loser reads the winner's key.

Erasure drops the wrapped key from the row. The old row version stays in the table's file until VACUUM reclaims
it, and in the write-ahead log and backups until they expire; it is still wrapped by the master key, so what bounds
an erasure there is rotating the master key and destroying the old one once those copies are gone.

One connection per instance: use an instance from one thread at a time.
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection, OperationalError

from engine.access.ownership import migrates
from engine.plumbing.kept_connection import KeptConnection
from engine.security.cipher import DataKey
from engine.security.errors import ErasedError, NotErasedError, UnknownPatientKeyError
from engine.security.patient_keys import (
    NOT_ERASED,
    Shredded,
    epoch_error,
    erased_message,
    not_owner,
    relation_erased,
    relation_key_id,
)
from engine.security.providers import KeyProvider

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS careloop_patient_keys (
    patient_id       text PRIMARY KEY,
    epoch            integer NOT NULL DEFAULT 1 CHECK (epoch >= 1),
    master_key_id    text NULL,
    wrapped          bytea NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    erased_at        timestamptz NULL,
    -- a relation key's row (patient_id 'relation:<relation_id>', issue 18) names the patient who owns it: erasing
    -- the patient destroys it too
    owner_patient_id text NULL,
    CONSTRAINT careloop_patient_keys_live_or_erased CHECK (
        (wrapped IS NOT NULL AND master_key_id IS NOT NULL AND erased_at IS NULL)
        OR (wrapped IS NULL AND master_key_id IS NULL AND erased_at IS NOT NULL)
    )
);
-- A table from before relation keys gains the column; only then, and before any index below takes a weaker lock
-- (a lock upgrade would deadlock with an intake writing meanwhile).
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'careloop_patient_keys'
            AND column_name = 'owner_patient_id'
    ) THEN
        ALTER TABLE careloop_patient_keys ADD COLUMN owner_patient_id text NULL;
    END IF;
END $$;
-- which master keys still wrap a live key: rotation re-wraps from it, and an old master key may go once unused
CREATE INDEX IF NOT EXISTS careloop_patient_keys_master ON careloop_patient_keys (master_key_id)
    WHERE wrapped IS NOT NULL;
CREATE INDEX IF NOT EXISTS careloop_patient_keys_owner ON careloop_patient_keys (owner_patient_id)
    WHERE owner_patient_id IS NOT NULL;
"""
REWRAP_PAGE = 500
# Taken by a patient's erasure and by the making of a relation key they own, each in its transaction.
OWNER_LOCK = "SELECT pg_advisory_xact_lock(hashtext('careloop_patient_keys:owner:' || %s))"

Row = tuple[int, str | None, bytes | None]  # (epoch, master key id, wrapped key)


def create_table(conn: Connection[Any]) -> None:
    """The table, if it is not there yet; serialised, since two processes creating it at once collide. Left alone
    where `careloop roles apply` made it for another role (engine/access/ownership.py)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('careloop_patient_keys'))")
        if migrates(conn, ("careloop_patient_keys",), "the patients' keys"):
            conn.execute(TABLE_DDL)


def shred(conn: Connection[Any], patient_id: str) -> Shredded:
    """Drop the patient's wrapped key and those of the relation keys the patient owns, in one transaction; a patient
    never seen gets an erased row, so no key is made for them later. Needs no master key: nothing is unwrapped, and
    no key is read (a live row is one not erased, as the table's check says), so the eraser's role has no SELECT on
    the wrapped keys."""
    with conn.transaction():
        conn.execute(OWNER_LOCK, (patient_id,))  # no relation key of theirs is being made meanwhile
        shredded = _shred_row(conn, patient_id, None)
        relations = conn.execute(
            "UPDATE careloop_patient_keys SET wrapped = NULL, master_key_id = NULL, erased_at = now() "
            "WHERE owner_patient_id = %s AND erased_at IS NULL",
            (patient_id,),
        ).rowcount
    return Shredded(shredded.had_key, shredded.epoch, relations)


def shred_relation(conn: Connection[Any], patient_id: str, relation_id: str) -> Shredded:
    """Drop one relation key of the patient's; one never made gets an erased row owned by the patient (so it is not
    made later). RelationOwnerError if the row is another patient's."""
    row_id = relation_key_id(relation_id)
    with conn.transaction():
        owner = conn.execute(
            "SELECT owner_patient_id FROM careloop_patient_keys WHERE patient_id = %s", (row_id,)
        ).fetchone()
        if owner is not None and owner[0] != patient_id:
            raise not_owner(patient_id, relation_id)
        return _shred_row(conn, row_id, patient_id)


def _shred_row(conn: Connection[Any], row_id: str, owner: str | None) -> Shredded:
    live = conn.execute(
        "UPDATE careloop_patient_keys SET wrapped = NULL, master_key_id = NULL, erased_at = now() "
        "WHERE patient_id = %s AND erased_at IS NULL RETURNING epoch",
        (row_id,),
    ).fetchone()
    if live is not None:
        return Shredded(True, int(live[0]))
    # already erased, or never seen: a row without a key keeps it so
    if owner is None:  # a patient's own row (the eraser's columns of old)
        conn.execute(
            "INSERT INTO careloop_patient_keys (patient_id, epoch, erased_at) VALUES (%s, 1, now()) "
            "ON CONFLICT (patient_id) DO NOTHING",
            (row_id,),
        )
    else:
        conn.execute(
            "INSERT INTO careloop_patient_keys (patient_id, epoch, erased_at, owner_patient_id) "
            "VALUES (%s, 1, now(), %s) ON CONFLICT (patient_id) DO NOTHING",
            (row_id, owner),
        )
    row = conn.execute("SELECT epoch FROM careloop_patient_keys WHERE patient_id = %s", (row_id,)).fetchone()
    return Shredded(False, int(row[0]) if row else 1)


class PostgresKeyShredder:
    """Erasure alone, for ``careloop erase``: it destroys keys without holding the master keys (least privilege:
    the role needs UPDATE and INSERT on careloop_patient_keys, not the key file)."""

    def __init__(self, database_url: str, *, name: str = "careloop-erase", create: bool = True) -> None:
        self._db = KeptConnection(database_url, name, on_connect=create_table if create else None)

    def shred(self, patient_id: str) -> Shredded:
        return shred(self._db.connection, patient_id)

    def shred_relation(self, patient_id: str, relation_id: str) -> Shredded:
        return shred_relation(self._db.connection, patient_id, relation_id)

    def close(self) -> None:
        self._db.close()


class PostgresPatientKeys:
    """``create``: make the table on connecting (off where migrations made it and the role may not create tables)."""

    def __init__(
        self, database_url: str, provider: KeyProvider, *, name: str = "careloop-patient-keys", create: bool = True
    ) -> None:
        self._provider = provider
        self._db = KeptConnection(database_url, name, on_connect=create_table if create else None)

    def key_for(self, patient_id: str) -> DataKey:
        row = self._row(patient_id)
        if row is not None:
            return self._live(patient_id, row)
        key = DataKey.generate(1)
        key_id, wrapped = self._provider.wrap(key.secret)
        inserted = self._again_once_lost(
            "INSERT INTO careloop_patient_keys (patient_id, epoch, master_key_id, wrapped) VALUES (%s, 1, %s, %s) "
            "ON CONFLICT (patient_id) DO NOTHING RETURNING epoch",
            (patient_id, key_id, wrapped),
        )
        if inserted is not None:
            return key
        # Another process made the row first: its key is the key (or it erased the patient meanwhile).
        row = self._row(patient_id)
        if row is None:
            raise UnknownPatientKeyError("another process made the patient's key row, and it was deleted", patient_id)
        return self._live(patient_id, row)

    def existing(self, patient_id: str) -> DataKey | None:
        row = self._row(patient_id)
        return None if row is None or row[2] is None else self._live(patient_id, row)

    def key_at(self, patient_id: str, epoch: int) -> DataKey:
        row = self._row(patient_id)
        if row is None or row[2] is None or row[0] != epoch:
            raise epoch_error(patient_id, epoch, row[0] if row else None)
        return self._live(patient_id, row)

    def erase(self, patient_id: str) -> bool:
        return shred(self._db.connection, patient_id).had_key

    def shred(self, patient_id: str) -> Shredded:
        return shred(self._db.connection, patient_id)

    def erased(self, patient_id: str) -> bool:
        row = self._row(patient_id)
        return row is not None and row[2] is None

    def shred_relation(self, patient_id: str, relation_id: str) -> Shredded:
        return shred_relation(self._db.connection, patient_id, relation_id)

    def key_for_relation(self, patient_id: str, relation_id: str) -> DataKey:
        owner = self._row(patient_id)
        if owner is not None and owner[2] is None:
            raise ErasedError(erased_message(owner[0]), patient_id)
        row_id = relation_key_id(relation_id)
        found = self._relation_row(row_id)
        if found is None:
            try:
                self._make_relation_key(patient_id, row_id)
            except OperationalError:  # the kept connection was lost (PostgreSQL restarted): once more, anew
                self._make_relation_key(patient_id, row_id)
            # the row now there decides (another process may have made it first, or erased it meanwhile)
            found = self._relation_row(row_id)
            if found is None:
                raise UnknownPatientKeyError("the relation key row was deleted as it was made", patient_id)
        row, row_owner = found
        if row_owner != patient_id:
            raise not_owner(patient_id, relation_id)
        if row[1] is None or row[2] is None:
            raise relation_erased(patient_id, relation_id, row[0])
        return DataKey(row[0], self._provider.unwrap(row[1], row[2]))

    def _make_relation_key(self, patient_id: str, row_id: str) -> None:
        """Insert a relation key owned by ``patient_id`` unless the patient is erased, under the lock their erasure
        takes (``shred``): a key made while the patient is being erased is made before it and destroyed with the
        others, or refused after it, never left live."""
        key_id, wrapped = self._provider.wrap(DataKey.generate(1).secret)
        conn = self._db.connection
        with conn.transaction():
            conn.execute(OWNER_LOCK, (patient_id,))
            owner = conn.execute(
                "SELECT epoch FROM careloop_patient_keys WHERE patient_id = %s AND erased_at IS NOT NULL", (patient_id,)
            ).fetchone()
            if owner is not None:
                raise ErasedError(erased_message(int(owner[0])), patient_id)
            conn.execute(
                "INSERT INTO careloop_patient_keys (patient_id, epoch, master_key_id, wrapped, owner_patient_id) "
                "VALUES (%s, 1, %s, %s, %s) ON CONFLICT (patient_id) DO NOTHING",
                (row_id, key_id, wrapped, patient_id),
            )

    def renew(self, patient_id: str) -> DataKey:
        secret = DataKey.generate().secret
        key_id, wrapped = self._provider.wrap(secret)
        renewed = self._db.execute(
            "UPDATE careloop_patient_keys SET epoch = epoch + 1, master_key_id = %s, wrapped = %s, "
            "created_at = now(), erased_at = NULL WHERE patient_id = %s AND wrapped IS NULL RETURNING epoch",
            (key_id, wrapped, patient_id),
        ).fetchone()
        if renewed is None:
            raise NotErasedError(NOT_ERASED, patient_id)
        return DataKey(int(renewed[0]), secret)

    def rewrap_all(self, provider: KeyProvider) -> int:
        total = 0
        while page := self._rewrap_page(provider):
            total += page
        self._provider = provider
        return total

    def master_keys_in_use(self) -> list[str]:
        """The master keys that wrap at least one live data key: an older one may leave the key file once it is not
        here and no database backup that needs it is kept."""
        rows = self._db.execute(
            "SELECT DISTINCT master_key_id FROM careloop_patient_keys WHERE wrapped IS NOT NULL ORDER BY 1"
        ).fetchall()
        return [str(row[0]) for row in rows]

    def close(self) -> None:
        self._db.close()

    def _rewrap_page(self, provider: KeyProvider) -> int:
        # Locked, so an erasure waits for the page and then drops the re-wrapped key: a key is never brought back.
        conn = self._db.connection
        with conn.transaction():
            rows = conn.execute(
                "SELECT patient_id, master_key_id, wrapped FROM careloop_patient_keys "
                "WHERE wrapped IS NOT NULL AND master_key_id <> %s ORDER BY patient_id LIMIT %s FOR UPDATE",
                (provider.current_key_id, REWRAP_PAGE),
            ).fetchall()
            rewrapped = [(*provider.wrap(provider.unwrap(key_id, bytes(blob))), pid) for pid, key_id, blob in rows]
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE careloop_patient_keys SET master_key_id = %s, wrapped = %s WHERE patient_id = %s",
                    rewrapped,
                )
        return len(rows)

    def _row(self, patient_id: str) -> Row | None:
        row = self._again_once_lost(
            "SELECT epoch, master_key_id, wrapped FROM careloop_patient_keys WHERE patient_id = %s", (patient_id,)
        )
        return None if row is None else (int(row[0]), row[1], None if row[2] is None else bytes(row[2]))

    def _relation_row(self, row_id: str) -> tuple[Row, str | None] | None:
        row = self._again_once_lost(
            "SELECT epoch, master_key_id, wrapped, owner_patient_id FROM careloop_patient_keys WHERE patient_id = %s",
            (row_id,),
        )
        if row is None:
            return None
        return (int(row[0]), row[1], None if row[2] is None else bytes(row[2])), row[3]

    def _again_once_lost(self, query: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The one row of a statement that may run twice (a read; an insert that does nothing when the row is
        there), run once more on a new connection when the kept one was lost: after PostgreSQL restarted, a
        long-running intake's first seal meets the dead connection, and its message should not fail for it."""
        try:
            return self._db.execute(query, params).fetchone()
        except OperationalError:
            return self._db.execute(query, params).fetchone()

    def _live(self, patient_id: str, row: Row) -> DataKey:
        epoch, key_id, wrapped = row
        if key_id is None or wrapped is None:
            raise ErasedError(erased_message(epoch), patient_id)
        return DataKey(epoch, self._provider.unwrap(key_id, wrapped))
