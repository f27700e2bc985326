"""Questions staff and analysts ask of the reminder queue. Time is an argument, never read from a clock."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import Connection
from psycopg.rows import dict_row

# Still to go out: planned, requested, held back by the policy, or approved and not yet sent.
OPEN = ("scheduled", "due", "deferred", "approved")


def due_between(conn: Connection[Any], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Reminders still to go out (see ``OPEN``) due in [start, end), earliest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT * FROM reminder_queue WHERE status = ANY(%s) AND due_at >= %s AND due_at < %s "
            "ORDER BY due_at, message_id",
            (list(OPEN), start, end),
        )
        return cur.fetchall()


def due_on(conn: Connection[Any], day: date, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Reminders scheduled or due on a local calendar day ("today's due reminders")."""
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    return due_between(conn, start, end)


def for_patient(conn: Connection[Any], patient_id: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM reminder_queue WHERE patient_id = %s ORDER BY due_at, message_id", (patient_id,))
        return cur.fetchall()


def message(conn: Connection[Any], message_id: str) -> dict[str, Any] | None:
    """One reminder by the engine's message id: whom it went to, on which channel and attempt."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM reminder_queue WHERE message_id = %s", (message_id,))
        return cur.fetchone()
