"""The outbox publisher: outcome events from dispatch_outbox to the clinical topic, keyed by patient.

At least once: a crash between the broker's acknowledgement and marking the rows published sends them again,
with the same event ids, which the engine recognises. Rows are locked while they are published, so two
dispatchers do not publish the same rows at the same time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import psycopg

from engine.dispatch import APPLICATION, metrics
from engine.plumbing.kept_connection import KeptConnection
from events import parse_event
from events.base import Event

_UNPUBLISHED = """
SELECT seq, payload FROM dispatch_outbox WHERE published_at IS NULL ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED
"""


class Publisher(Protocol):
    def publish(self, events: Iterable[Event], timeout: float = 60.0) -> dict[int, int]: ...

    def close(self) -> None: ...


class OutboxPublisher:
    def __init__(self, database_url: str, connect: Callable[[], Publisher], batch: int = 500) -> None:
        self._connect = connect  # called on first use and after a failure: nothing connects at construction
        self._batch = batch
        self._db = KeptConnection(database_url, APPLICATION)
        self._publisher: Publisher | None = None

    @property
    def _conn(self) -> psycopg.Connection[Any]:
        return self._db.connection

    def run_once(self) -> int:
        """Publish one batch of unpublished events; return how many."""
        with self._conn.transaction():
            rows = self._conn.execute(_UNPUBLISHED, (self._batch,)).fetchall()
            if not rows:
                return 0
            events = [parse_event(payload) for _, payload in rows]
            if self._publisher is None:
                self._publisher = self._connect()
            self._publisher.publish(events)
            self._conn.execute(
                "UPDATE dispatch_outbox SET published_at = now() WHERE seq = ANY(%s)", ([s for s, _ in rows],)
            )
        for e in events:
            metrics.PUBLISHED.labels(e.type).inc()
        return len(rows)

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None
        self._db.close()
