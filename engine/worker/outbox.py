"""Sending what the engine committed to its outbox (journeys handed over to a merge's survivor).

Send first, then mark sent: a crash in between sends again, which the receiver recognises by event id.
"""

from __future__ import annotations

from psycopg import Connection


class Outbox:
    def __init__(self, database_url: str, batch: int = 500) -> None:
        self._url = database_url
        self._batch = batch

    def pending(self) -> list[tuple[int, str, bytes, bytes]]:
        with Connection.connect(self._url) as conn:
            rows = conn.execute(
                "SELECT id, topic, key, value FROM careloop_outbox WHERE published_at IS NULL ORDER BY id LIMIT %s",
                (self._batch,),
            ).fetchall()
        return [(int(i), str(t), bytes(k), bytes(v)) for i, t, k, v in rows]

    def mark_sent(self, ids: list[int]) -> None:
        with Connection.connect(self._url) as conn:
            conn.execute("UPDATE careloop_outbox SET published_at = now() WHERE id = ANY(%s)", (ids,))
