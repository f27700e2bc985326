"""Sending the hand-overs the engine committed (journeys handed over to a merge's survivor) to the clinical topic.

Send first, then mark sent: a crash in between sends again, which the receiver recognises by event id.
"""

from __future__ import annotations

from engine.plumbing.kept_connection import KeptConnection
from engine.worker import APPLICATION


class HandOvers:
    def __init__(self, database_url: str, batch: int = 500) -> None:
        self._db = KeptConnection(database_url, APPLICATION)  # looked at every half second
        self._batch = batch

    def pending(self) -> list[tuple[int, str, bytes, bytes]]:
        rows = self._db.execute(
            "SELECT id, topic, key, value FROM careloop_hand_overs WHERE published_at IS NULL ORDER BY id LIMIT %s",
            (self._batch,),
        ).fetchall()
        return [(int(i), str(t), bytes(k), bytes(v)) for i, t, k, v in rows]

    def mark_sent(self, ids: list[int]) -> None:
        self._db.execute("UPDATE careloop_hand_overs SET published_at = now() WHERE id = ANY(%s)", (ids,))

    def close(self) -> None:
        self._db.close()
