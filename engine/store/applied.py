"""The record of which inputs each patient has had applied: one row per (patient, input event id).

Why the store keeps it rather than the patient's state: an input can come again at any age, with the id it had
(Kafka redelivers what followed the last committed offset, but a re-import of a hospital's files or a `careloop
dlq replay` sends inputs of any age), and applying one twice is not harmless (a no-show counted twice, an old
consent.granted undoing a later withdrawal). Kept in the state, that record grew with every input, was copied on
every event and written in every snapshot. Here it is an index: the worker asks once per batch which of the
batch's inputs are already applied, and writes the ones it applies in the batch's own transaction, so a row
exists exactly when the input's event is in the store.

Per patient, as the state's record was: an event id is derived from its source message, not from the patient.

Stores from before this table: when it is created, it is filled from the input events already stored (the
events are the record; the table is derived from them), in the same transaction, under the store's schema lock.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from psycopg import Connection, Cursor

from engine.journeys.evolve import ENGINE_SOURCE

TABLE = "careloop_applied_inputs"
DDL = f"""
CREATE TABLE {TABLE} (
    patient_id text NOT NULL,
    event_id   text NOT NULL,
    PRIMARY KEY (patient_id, event_id)
)
"""
# The inputs among the stored careloop events (eventsourcing's JSON: the careloop event under "payload"); the
# engine's own decisions are never delivered to it again, so they are not recorded.
FILL = f"""
INSERT INTO {TABLE} (patient_id, event_id)
SELECT DISTINCT p ->> 'patient_id', p ->> 'event_id'
FROM careloop_events e CROSS JOIN LATERAL (SELECT convert_from(e.state, 'UTF8')::json -> 'payload' AS p) AS r
WHERE e.topic = %(topic)s AND (p -> 'source' ->> 'system') IS DISTINCT FROM %(engine)s
"""
# An input that is already there is another writer's (a rebalance): the insert fails as the events' insert would.
INSERT = f"INSERT INTO {TABLE} (patient_id, event_id) SELECT * FROM unnest(%s::text[], %s::text[])"
SELECT = (
    f"SELECT a.patient_id, a.event_id FROM {TABLE} a "
    "JOIN unnest(%s::text[], %s::text[]) AS b(patient_id, event_id) USING (patient_id, event_id)"
)


class EncodedStoreError(RuntimeError):
    """The store's events are encrypted or compressed, so SQL cannot read the inputs among them."""


def create(curs: Cursor[Any], recorded_topic: str, readable: bool) -> int | None:
    """Create the table if it is missing and fill it from the stored inputs; the rows filled, None if it existed.
    ``readable``: the stored events are plain JSON (no cipher, no compressor)."""
    row = curs.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (TABLE,)).fetchone()
    if row is not None and row["found"]:
        return None
    if not readable:
        raise EncodedStoreError(
            f"the event store is encrypted or compressed, so {TABLE} cannot be filled from its stored inputs; "
            "careloop configures neither: remove CIPHER_TOPIC and COMPRESSOR_TOPIC from the store's settings"
        )
    curs.execute(DDL)
    curs.execute(FILL, {"topic": recorded_topic, "engine": ENGINE_SOURCE})
    return curs.rowcount


def insert(curs: Cursor[Any], inputs: Collection[tuple[str, str]]) -> None:
    if inputs:
        curs.execute(INSERT, ([p for p, _ in inputs], [e for _, e in inputs]), prepare=True)


def select(conn: Connection[Any], inputs: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
    """Those of ``inputs`` (patient id, event id) already applied: one index lookup each, one query for all.
    ``conn`` returns rows as dicts (the store's connections do)."""
    if not inputs:
        return set()
    rows = conn.execute(SELECT, ([p for p, _ in inputs], [e for _, e in inputs]), prepare=True).fetchall()
    return {(r["patient_id"], r["event_id"]) for r in rows}
