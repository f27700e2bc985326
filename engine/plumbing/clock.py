"""Where 'now' comes from for the shell (when to fire timers). The core never reads a clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from psycopg import Connection

from engine.plumbing.kept_connection import KeptConnection


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class DatabaseClock:
    """'now' is the row in careloop_clock (or the system time until one is set): tests and demos move it."""

    def __init__(self, database_url: str, name: str = "careloop-clock") -> None:
        self._conn = KeptConnection(database_url, name)  # the timer poller asks several times a second

    def now(self) -> datetime:
        row = self._conn.execute("SELECT now FROM careloop_clock").fetchone()
        return row[0] if row else datetime.now(UTC)


def set_database_clock(conn: Connection[object], moment: datetime) -> None:
    conn.execute(
        "INSERT INTO careloop_clock (id, now) VALUES (true, %s) ON CONFLICT (id) DO UPDATE SET now = EXCLUDED.now",
        (moment,),
    )
