"""Referral questions: whose code this is, and a member's referrals on both sides."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row


def code_holder(conn: Connection[Any], code: str) -> str | None:
    """The patient whose referral code ``code`` is (the printed form), or None when no member has it."""
    with conn.cursor() as cur:
        cur.execute("SELECT patient_id FROM referral_codes WHERE code = %s", (code,))
        row = cur.fetchone()
    return None if row is None else str(row[0])


def referrals_of(conn: Connection[Any], patient_id: str) -> list[dict[str, Any]]:
    """The patient's referrals as the referrer (the referees their code brought) and as the referee, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT referral_id, code, referrer_patient_id, referee_patient_id, claimed_at, accepted_at, attributed_at,
                   status, refused_side, refused_code, reason
            FROM referrals
            WHERE referrer_patient_id = %s OR referee_patient_id = %s
            ORDER BY claimed_at, referral_id
            """,
            (patient_id, patient_id),
        )
        return cur.fetchall()
