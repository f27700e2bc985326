"""Task questions: what is overdue, per queue, at a given moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row


def overdue_by_queue(conn: Connection[Any], now: datetime) -> list[dict[str, Any]]:
    """Per queue: open tasks past their SLA at ``now``, how many are urgent or high, and the oldest SLA."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT queue,
                   count(*)                                                AS overdue,
                   count(*) FILTER (WHERE priority IN ('urgent', 'high'))  AS urgent_or_high,
                   min(sla_due_at)                                         AS oldest_sla_due_at
            FROM tasks
            WHERE status = 'open' AND sla_due_at < %s
            GROUP BY queue
            ORDER BY overdue DESC, queue
            """,
            (now,),
        )
        return cur.fetchall()


def open_in_queue(conn: Connection[Any], queue: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM tasks WHERE status = 'open' AND queue = %s ORDER BY sla_due_at, task_id", (queue,))
        return cur.fetchall()
