"""A patient's timeline, in time order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row


def for_patient(
    conn: Connection[Any], patient_id: str, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT * FROM patient_timeline WHERE patient_id = %s "
            "AND (%s::timestamptz IS NULL OR at >= %s) AND (%s::timestamptz IS NULL OR at < %s) "
            "ORDER BY at, seq",
            (patient_id, since, since, until, until),
        )
        return cur.fetchall()
