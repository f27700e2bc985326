"""A PostgreSQL application recorder that also writes offsets and timers in the events' transaction.

eventsourcing fits the batch commit through its public extension points: ``Application.save(**kwargs)`` hands
its keyword arguments to the recorder's ``insert_events``, and the recorder class is chosen by the
``APPLICATION_RECORDER_TOPIC`` setting. The insert, the table lock and the notification are our own SQL on the
library's table, with the library's table and channel names (public attributes of its recorder).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor
from psycopg.sql import SQL, Identifier, Literal

from engine.store import applied, deployments, snapshots


@dataclass
class Commit:
    """What else a batch commits with its events."""

    consumer: str
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition) -> next offset
    schedule: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)  # timer -> (patient, instance, due)
    cancel: set[str] = field(default_factory=set)
    hand_overs: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # (topic, key, value) to send
    topic_ids: dict[str, str] = field(default_factory=dict)  # topic -> the broker's id of it
    snapshots: list[snapshots.Row] = field(default_factory=list)  # of committed aggregates
    applied: list[tuple[str, str]] = field(default_factory=list)  # (patient, event id) of the inputs it applies
    deployment: int | None = None  # the deployment head the batch was decided under (None: not checked)

    def write(self, curs: Cursor[Any]) -> None:
        if self.deployment is not None:  # first: before the timers' rows, which a deploy writes under the head
            deployments.check_head(curs, self.deployment)
        applied.insert(curs, self.applied)
        if self.cancel:
            curs.execute("DELETE FROM careloop_timers WHERE timer_id = ANY(%s)", (sorted(self.cancel),))
        if self.schedule:
            curs.executemany(
                "INSERT INTO careloop_timers (timer_id, patient_id, instance_id, due_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (timer_id) DO UPDATE SET due_at = EXCLUDED.due_at, published_at = NULL",
                [(t, p, i, due) for t, (p, i, due) in self.schedule.items()],
            )
        if self.snapshots:
            curs.executemany(snapshots.UPSERT, self.snapshots)
        if self.hand_overs:
            curs.executemany("INSERT INTO careloop_hand_overs (topic, key, value) VALUES (%s, %s, %s)", self.hand_overs)
        if self.offsets:
            curs.executemany(
                "INSERT INTO careloop_offsets (consumer, topic, partition, next_offset, topic_id) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = "
                "CASE WHEN careloop_offsets.topic_id = EXCLUDED.topic_id "
                "THEN GREATEST(careloop_offsets.next_offset, EXCLUDED.next_offset) ELSE EXCLUDED.next_offset END, "
                "topic_id = EXCLUDED.topic_id, updated_at = now()",
                [(self.consumer, t, p, o, self.topic_ids.get(t, "")) for (t, p), o in self.offsets.items()],
            )


class CareloopRecorder(PostgresApplicationRecorder):
    """With ``commit=``, events go in with one INSERT of column arrays, and offsets and timers are written in the
    same transaction; without it, the library's own path (its insert function: POSTGRES_ENABLE_DB_FUNCTIONS)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        table = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        self._insert_columns = SQL(
            "INSERT INTO {} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) RETURNING notification_id"
        ).format(table)
        self._notify = SQL("NOTIFY {}").format(Identifier(self.channel_name))
        # As the library locks the table for its own inserts (EXCLUSIVE: readers are not blocked): without it two
        # writers could commit notification ids out of order, and a follower that has passed id 11 would never
        # read a late-committing id 10.
        self._lock = [
            SQL("SET LOCAL lock_timeout = {}").format(Literal(f"{self.datastore.lock_timeout}s")),
            SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table),
        ]

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        commit: Commit | None = kwargs.get("commit")
        if commit is None:
            inserted: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return inserted
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            ids: list[int] = []
            for statement in self._lock:
                curs.execute(statement, prepare=True)
            if stored_events:
                # One array per column, sent in binary, rather than the library's function taking an array of
                # composite rows, which psycopg dumps as text (BENCHMARKS.md).
                curs.execute(
                    self._insert_columns,
                    (
                        [e.originator_id for e in stored_events],
                        [e.originator_version for e in stored_events],
                        [e.topic for e in stored_events],
                        [e.state for e in stored_events],
                    ),
                    prepare=True,
                )
                ids = [r["notification_id"] for r in curs.fetchall()]
                curs.execute(self._notify, prepare=True)
            commit.write(curs)
        return ids
