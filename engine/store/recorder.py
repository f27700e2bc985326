"""A PostgreSQL application recorder that also writes offsets and timers in the events' transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor


@dataclass
class Commit:
    """What else a batch commits with its events."""

    consumer: str
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition) -> next offset
    schedule: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)  # timer -> (patient, instance, due)
    cancel: set[str] = field(default_factory=set)
    outbox: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # (topic, key, value) to send
    topic_ids: dict[str, str] = field(default_factory=dict)  # topic -> the broker's id of it

    def write(self, curs: Cursor[Any]) -> None:
        if self.cancel:
            curs.execute("DELETE FROM careloop_timers WHERE timer_id = ANY(%s)", (sorted(self.cancel),))
        if self.schedule:
            curs.executemany(
                "INSERT INTO careloop_timers (timer_id, patient_id, instance_id, due_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (timer_id) DO UPDATE SET due_at = EXCLUDED.due_at, published_at = NULL",
                [(t, p, i, due) for t, (p, i, due) in self.schedule.items()],
            )
        if self.outbox:
            curs.executemany("INSERT INTO careloop_outbox (topic, key, value) VALUES (%s, %s, %s)", self.outbox)
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
    """With ``commit=``, events go in through the library's insert function (POSTGRES_ENABLE_DB_FUNCTIONS),
    and offsets and timers are written in the same transaction; without it, the library's own path."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        commit: Commit | None = kwargs.get("commit")
        if commit is None:
            inserted: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return inserted
        rows = [
            self.construct_pg_stored_event(
                originator_id=e.originator_id, originator_version=e.originator_version, topic=e.topic, state=e.state
            )
            for e in stored_events
        ]
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            ids: list[int] = []
            # The insert function takes no table lock; without one, two writers could commit notification ids out
            # of order and a follower that has passed id 11 would never read a late-committing id 10.
            self._lock_table(curs)
            if rows:
                curs.execute(self.sql_invoke_pg_function_insert_events, (rows,), prepare=True)
                ids = [r[self.pg_function_name_insert_events] for r in curs.fetchall()]
            commit.write(curs)
        return ids
