"""Patient snapshots: a committed aggregate saved whole, so loading a patient is one row instead of a replay.

Why: the worker keeps recent patients in memory (the aggregate cache) and loads the rest from the store. A
hospital's patients come back weeks apart, so most loads miss the cache, and replaying a patient's history
(read, decode, validate and fold ~8 stored events per clinical event) grows with that history. A snapshot is
taken when a patient leaves the cache (it is committed then) and holds the aggregate at a version; loading
reads it and folds only the events after that version.

A snapshot is a cache, never the record: the events are. Each is typed JSON (snapshot_format.py) stored with
its schema version; one of another version, or one that does not decode, is not used, and the patient is
replayed from its events, with a log line saying how many and why. Snapshots written before schema versions
(pickles, schema_version 0 here) are never read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import structlog
from psycopg import Connection
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from engine.store.aggregate import PatientJourneys
from engine.store.snapshot_format import SNAPSHOT_SCHEMA_VERSION, SnapshotDocument, decode, encode

log = structlog.get_logger("careloop.store")

SNAPSHOT_DDL = """
CREATE TABLE IF NOT EXISTS careloop_snapshots (
    aggregate_id   uuid    PRIMARY KEY,
    version        bigint  NOT NULL,
    schema_version integer NOT NULL,
    state          bytea   NOT NULL,  -- JSON (UTF-8), snapshot_format.SnapshotDocument
    taken_at       timestamptz NOT NULL DEFAULT now()
);
-- Snapshots were once pickles, valid for a digest of the code kept in 'code': as schema version 0, never read.
ALTER TABLE careloop_snapshots ADD COLUMN IF NOT EXISTS schema_version integer NOT NULL DEFAULT 0;
ALTER TABLE careloop_snapshots DROP COLUMN IF EXISTS code;
"""
UPSERT = (
    "INSERT INTO careloop_snapshots (aggregate_id, version, schema_version, state) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (aggregate_id) DO UPDATE SET version = EXCLUDED.version, schema_version = EXCLUDED.schema_version, "
    "state = EXCLUDED.state, taken_at = now() "
    "WHERE careloop_snapshots.version <= EXCLUDED.version "
    "OR careloop_snapshots.schema_version <> EXCLUDED.schema_version"
)
# Only this version's state is fetched: the others are counted, never read.
SELECT = (
    "SELECT aggregate_id, version, schema_version, "
    "CASE WHEN schema_version = %s THEN state END AS state "
    "FROM careloop_snapshots WHERE aggregate_id = ANY(%s)"
)

Row = tuple[UUID, int, int, bytes]


def take(aggregate: PatientJourneys) -> Row:
    """The row for a committed aggregate (nothing pending)."""
    if aggregate.pending_events:
        raise ValueError("a snapshot is of a committed aggregate; this one has events not yet saved")
    document = SnapshotDocument(
        created_on=aggregate.created_on, modified_on=aggregate.modified_on, state=aggregate.state
    )
    return aggregate.id, aggregate.version, SNAPSHOT_SCHEMA_VERSION, encode(document)


def take_all(aggregates: Sequence[PatientJourneys]) -> list[Row]:
    """The rows of those that encode; one that does not is left out with a log line (a snapshot is a cache: the
    patient is replayed next time), so a state the encoder does not know never stops a batch's commit."""
    rows: list[Row] = []
    failed: Counter[str] = Counter()
    for aggregate in aggregates:
        try:
            rows.append(take(aggregate))
        except (PydanticSerializationError, TypeError, ValueError) as exc:
            failed[type(exc).__name__] += 1
    if failed:
        log.error("snapshots that do not encode left out", snapshots=sum(failed.values()), errors=dict(failed))
    return rows


def read(conn: Connection[Any], ids: Sequence[UUID]) -> dict[UUID, PatientJourneys]:
    """The aggregates of the patients' usable snapshots, by aggregate id."""
    found: dict[UUID, PatientJourneys] = {}
    other_versions: Counter[int] = Counter()
    unreadable: Counter[str] = Counter()
    for r in conn.execute(SELECT, (SNAPSHOT_SCHEMA_VERSION, list(ids))).fetchall():
        if r["schema_version"] != SNAPSHOT_SCHEMA_VERSION:
            other_versions[r["schema_version"]] += 1
            continue
        try:
            found[r["aggregate_id"]] = restore(r["aggregate_id"], r["version"], bytes(r["state"]))
        except (ValidationError, ValueError) as exc:
            unreadable[_why(exc)] += 1
    if other_versions:
        log.info(
            "snapshots of another schema version ignored; their patients are replayed from their events",
            snapshots=sum(other_versions.values()),
            found_versions=sorted(other_versions),
            schema_version=SNAPSHOT_SCHEMA_VERSION,
        )
    if unreadable:
        log.warning(
            "snapshots that do not decode ignored; their patients are replayed from their events",
            snapshots=sum(unreadable.values()),
            errors=dict(unreadable),
        )
    return found


def restore(aggregate_id: UUID, version: int, data: bytes) -> PatientJourneys:
    document = decode(data)
    aggregate = PatientJourneys.restored(version, document.state, document.created_on, document.modified_on)
    if aggregate.id != aggregate_id:
        raise ValueError("the snapshot holds another patient's state")
    return aggregate


def _why(exc: Exception) -> str:
    """The kinds of error, never the values (a snapshot holds patient data)."""
    if isinstance(exc, ValidationError):
        return ",".join(sorted({e["type"] for e in exc.errors(include_input=False, include_url=False)}))
    return type(exc).__name__


def worth_taking(aggregate: PatientJourneys, after: int) -> bool:
    """At least ``after`` events since the last snapshot: short histories replay as fast as they decode."""
    return aggregate.version - aggregate.snapshot_version >= after
