"""Journey questions: the funnel per journey and outcome, and a patient's journeys."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row


def funnel(conn: Connection[Any]) -> list[dict[str, Any]]:
    """Per journey: instances started, still active, completed and exited."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT journey_id,
                   count(*)                                    AS started,
                   count(*) FILTER (WHERE status = 'active')    AS active,
                   count(*) FILTER (WHERE status = 'completed') AS completed,
                   count(*) FILTER (WHERE status = 'exited')    AS exited
            FROM journey_instances
            GROUP BY journey_id
            ORDER BY journey_id
            """
        )
        return cur.fetchall()


def outcomes(conn: Connection[Any]) -> list[dict[str, Any]]:
    """Per journey, status and outcome: how many instances ended that way (active ones have no outcome)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT journey_id, status, outcome, count(*) AS instances FROM journey_instances "
            "GROUP BY journey_id, status, outcome ORDER BY journey_id, status, outcome NULLS FIRST"
        )
        return cur.fetchall()


def for_patient(conn: Connection[Any], patient_id: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT * FROM journey_instances WHERE patient_id = %s ORDER BY started_at, instance_id", (patient_id,)
        )
        return cur.fetchall()
