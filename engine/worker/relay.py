"""Engine decisions out to Kafka: a follower of the event store that publishes each engine event, in order.

At-least-once: the position is saved after the broker acknowledged the page, so a crash in between re-sends
it; consumers recognise repeats by event_id, which is stable. One relay at a time (a PostgreSQL advisory
lock), so several workers never interleave the topic.
"""

from __future__ import annotations

from typing import Any

import psycopg

from engine.journeys.evolve import is_engine_event
from events.base import Event
from projections.source import NotificationSource

RELAY_DDL = """
CREATE TABLE IF NOT EXISTS careloop_relay (
    name       text PRIMARY KEY,
    position   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""
LOCK_KEY = 0x6361_7265_6C6F_6F70  # "careloop"


class EngineRelay:
    def __init__(
        self, database_url: str, source: NotificationSource, name: str = "engine-topic", page: int = 1000
    ) -> None:
        self._url = database_url
        self._source = source
        self._name = name
        self._page = page
        self._lock_conn: psycopg.Connection[Any] | None = None

    def holds_lock(self) -> bool:
        """True when this process is the relay; the lock lives as long as its connection."""
        if self._lock_conn is None or self._lock_conn.closed:
            self._lock_conn = psycopg.connect(self._url, autocommit=True)
            self._lock_conn.execute(RELAY_DDL)
        row = self._lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        return bool(row and row[0])

    def next_page(self) -> tuple[int, int, list[Event]]:
        """(position before, last notification id read, the engine events among them)."""
        with psycopg.connect(self._url, autocommit=True) as conn:
            row = conn.execute("SELECT position FROM careloop_relay WHERE name = %s", (self._name,)).fetchone()
        page = self._source.read(int(row[0]) if row else 0, self._page)
        return page.after, page.last, [e for _, e in page.events if is_engine_event(e)]

    def advance(self, position: int) -> None:
        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO careloop_relay (name, position) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                "SET position = GREATEST(careloop_relay.position, EXCLUDED.position), updated_at = now()",
                (self._name, position),
            )

    def close(self) -> None:
        if self._lock_conn is not None:
            self._lock_conn.close()
