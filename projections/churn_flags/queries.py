"""Churn-risk questions: who is at risk, why, and a patient's current level."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row


def at_level(conn: Connection[Any], level: str = "high") -> list[dict[str, Any]]:
    """Patients currently at ``level``, highest score first, each with the reasons of their open flags."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT l.patient_id, l.score, l.level, l.changed_at,
                   array_agg(f.journey_id || ': ' || f.reason ORDER BY f.weight DESC, f.reason) AS reasons,
                   min(f.since) AS flagged_since
            FROM churn_levels l
            JOIN churn_flags f ON f.patient_id = l.patient_id AND f.status = 'open'
            WHERE l.level = %s
            GROUP BY l.patient_id, l.score, l.level, l.changed_at
            ORDER BY l.score DESC, l.patient_id
            """,
            (level,),
        )
        return cur.fetchall()


def patient_level(conn: Connection[Any], patient_id: str) -> tuple[int, str]:
    """(score, level) of a patient; (0, 'none') for a patient never flagged."""
    row = conn.execute("SELECT score, level FROM churn_levels WHERE patient_id = %s", (patient_id,)).fetchone()
    return (int(row[0]), str(row[1])) if row else (0, "none")


def open_flags(conn: Connection[Any], patient_id: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT * FROM churn_flags WHERE patient_id = %s AND status = 'open' ORDER BY since, journey_id, reason",
            (patient_id,),
        )
        return cur.fetchall()
