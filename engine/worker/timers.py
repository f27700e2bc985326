"""Durable timers: rows in careloop_timers, claimed when due and sent as ticks on the patient's partition.

A million pending timers cost a million rows and one index, not memory: the poller reads only what is due.
A tick is a wake-up call, not a command: the core fires only what the patient's own state says is due, so a
tick sent twice (a crash between send and commit, or a republish) fires nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg.errors import UndefinedTable

from engine.plumbing.connections import connect
from engine.plumbing.kept_connection import KeptConnection
from engine.worker import APPLICATION

CLAIM = """
UPDATE careloop_timers SET published_at = %(wall)s
WHERE timer_id IN (
    SELECT timer_id FROM careloop_timers
    WHERE due_at <= %(now)s AND (published_at IS NULL OR published_at < %(stale)s)
    ORDER BY due_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING timer_id, patient_id, due_at
"""


@dataclass(frozen=True, slots=True)
class DueTimer:
    timer_id: str
    patient_id: str
    due_at: datetime


class TimerPoller:
    def __init__(self, database_url: str, batch: int, republish_after: float) -> None:
        self._url = database_url
        self._batch = batch
        self._republish_after = timedelta(seconds=republish_after)
        self._claims = KeptConnection(database_url, APPLICATION)

    def claim(self, now: datetime, wall: datetime) -> list[DueTimer]:
        """Timers due by ``now`` (the engine clock) not sent in the last ``republish_after`` (wall time).

        SKIP LOCKED lets several workers poll without sending the same tick twice at once.
        """
        params = {"now": now, "wall": wall, "stale": wall - self._republish_after, "limit": self._batch}
        rows = self._claims.execute(CLAIM, params, prepare=True).fetchall()
        return sorted((DueTimer(str(r[0]), str(r[1]), r[2]) for r in rows), key=lambda t: t.due_at)

    def close(self) -> None:
        self._claims.close()

    def pending(self) -> int:
        with connect(self._url, APPLICATION, autocommit=False) as conn:
            row = conn.execute("SELECT count(*) FROM careloop_timers").fetchone()
        return int(row[0]) if row else 0

    def projection_lag(self) -> dict[str, int]:
        """Events each projection is behind the store's head (empty until the projection runner has started)."""
        with connect(self._url, APPLICATION, autocommit=False) as conn:
            try:
                rows = conn.execute(
                    "SELECT t.name, greatest(0, h.head - t.position) FROM projection_tracking t, "
                    "(SELECT coalesce(max(notification_id), 0) AS head FROM careloop_events) h"
                ).fetchall()
            except UndefinedTable:
                return {}
        return {str(name): int(lag) for name, lag in rows}

    def committed_offsets(self, consumer: str) -> dict[tuple[str, int], int]:
        with connect(self._url, APPLICATION, autocommit=False) as conn:
            rows = conn.execute(
                "SELECT topic, partition, next_offset FROM careloop_offsets WHERE consumer = %s", (consumer,)
            ).fetchall()
        return {(str(t), int(p)): int(o) for t, p, o in rows}
