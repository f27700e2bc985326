"""Task questions: what is overdue, per queue, at a given moment; the work queue as staff see it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection, sql
from psycopg.rows import dict_row

STATUSES = ("open", "in_progress", "done", "escalated")
NOT_DONE = ("open", "in_progress", "escalated")
# Work order: most urgent first, then the earliest SLA.
PRIORITY_ORDER = sql.SQL(
    "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 WHEN 'low' THEN 3 ELSE 4 END"
)


def overdue_by_queue(conn: Connection[Any], now: datetime) -> list[dict[str, Any]]:
    """Per queue: unfinished tasks past their SLA at ``now``, how many are urgent or high, and the oldest SLA."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT queue,
                   count(*)                                                AS overdue,
                   count(*) FILTER (WHERE priority IN ('urgent', 'high'))  AS urgent_or_high,
                   min(sla_due_at)                                         AS oldest_sla_due_at
            FROM tasks
            WHERE status = ANY(%s) AND sla_due_at < %s
            GROUP BY queue
            ORDER BY overdue DESC, queue
            """,
            (list(NOT_DONE), now),
        )
        return cur.fetchall()


def open_in_queue(conn: Connection[Any], queue: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM tasks WHERE status = 'open' AND queue = %s ORDER BY sla_due_at, task_id", (queue,))
        return cur.fetchall()


def task(conn: Connection[Any], task_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM tasks WHERE task_id = %s", (task_id,))
        return cur.fetchone()


def work_queue(
    conn: Connection[Any],
    *,
    statuses: tuple[str, ...] = NOT_DONE,
    queue: str | None = None,
    role: str | None = None,
    assignee: str | None = None,
    overdue_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Tasks in the given statuses, filtered, most urgent first and then by SLA; ``overdue_at`` keeps those whose
    SLA passed before that moment."""
    conditions: list[sql.Composable] = [sql.SQL("status = ANY(%s)")]
    params: list[Any] = [list(statuses)]
    for column, value in (("queue", queue), ("role", role), ("assignee", assignee)):
        if value is not None:
            conditions.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    if overdue_at is not None:
        conditions.append(sql.SQL("sla_due_at < %s"))
        params.append(overdue_at)
    query = sql.SQL("SELECT * FROM tasks WHERE {} ORDER BY {}, sla_due_at, task_id").format(
        sql.SQL(" AND ").join(conditions), PRIORITY_ORDER
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()
