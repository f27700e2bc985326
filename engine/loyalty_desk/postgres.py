"""The desk's read models and audit trail in PostgreSQL: the tables of projections/loyalty_members and
loyalty_ledger (read only: the login group careloop_loyalty_desk may SELECT them, never careloop_events) and
careloop_audit (engine/access/audit.py: who is the server's session_user).

One kept connection, one statement at a time: the API waits for decisions in threads, each poll a short query."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from psycopg import errors
from psycopg.rows import dict_row

from engine.access import audit
from engine.loyalty_desk.errors import TrailError, UnavailableError
from engine.loyalty_desk.ports import Decision, Entry, Member
from engine.loyalty_desk.referrals import Referral
from engine.plumbing.kept_connection import KeptConnection

MEMBER = (
    "SELECT patient_id, programme_version, enrolled_at, tier, tier_since, requalify_at, available, pending, "
    "next_expiry_at, next_expiry_points, badges, zone FROM loyalty_members WHERE patient_id = %s"
)
ENTRIES = (
    "SELECT event_id, n, at, kind, batch_id, points, redeemable, qualifying, rule_id, reward_id, reason "
    "FROM points_entries WHERE patient_id = %s AND (%s::timestamptz IS NULL OR at >= %s) ORDER BY at, event_id, n"
)
DECISION = (
    "SELECT request_event_id, patient_id, kind, ref, reward_id, status, code, points, available_after, reason, "
    "decided_at FROM loyalty_requests"
)


class PostgresReadModels:
    def __init__(self, kept: KeptConnection, lock: threading.Lock) -> None:
        self._kept = kept
        self._lock = lock

    def _rows(self, query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        try:
            with self._lock, self._kept.connection.cursor(row_factory=dict_row) as cur:
                return cur.execute(query, params).fetchall()
        except errors.UndefinedTable as exc:
            raise UnavailableError("the loyalty read models are not there yet: start the projections") from exc
        except errors.OperationalError as exc:
            self._kept.close()
            raise UnavailableError(f"PostgreSQL did not answer ({type(exc).__name__}): ask again") from exc

    def member(self, patient_id: str) -> Member | None:
        found = self._rows(MEMBER, (patient_id,))
        if not found:
            return None
        row = found[0]
        return Member(**{**row, "badges": tuple(row["badges"] or ())})

    def entries(self, patient_id: str, since: datetime | None) -> list[Entry]:
        return [Entry(**row) for row in self._rows(ENTRIES, (patient_id, since, since))]

    def decision(self, request_event_id: str) -> Decision | None:
        found = self._rows(DECISION + " WHERE request_event_id = %s", (request_event_id,))
        return Decision(**found[0]) if found else None

    def applied_adjustment(self, patient_id: str, ref: str) -> Decision | None:
        found = self._rows(
            DECISION + " WHERE patient_id = %s AND kind = 'adjustment' AND ref = %s AND status = 'adjusted' "
            "ORDER BY decided_at LIMIT 1",
            (patient_id, ref),
        )
        return Decision(**found[0]) if found else None

    def code_owner(self, code: str) -> str | None:
        found = self._rows("SELECT patient_id FROM referral_codes WHERE code = %s", (code,))
        return str(found[0]["patient_id"]) if found else None

    def referral(self, referral_id: str) -> Referral | None:
        found = self._rows(
            "SELECT referral_id, status, refused_code, reason, claimed_at FROM referrals WHERE referral_id = %s",
            (referral_id,),
        )
        return Referral(**found[0]) if found else None


class PostgresTrail:
    """careloop_audit rows under the connection's login; a login that may not write them reads nothing."""

    def __init__(self, kept: KeptConnection, lock: threading.Lock) -> None:
        self._kept = kept
        self._lock = lock

    def record(self, patient_id: str, action: str, purpose: str, detail: str) -> None:
        try:
            with self._lock:
                audit.record(self._kept.connection, patient_id, action, purpose, detail)
        except errors.InsufficientPrivilege as exc:
            raise TrailError(
                "this login may not write the audit trail (it needs careloop_loyalty_desk, or `careloop roles apply` "
                "never ran), so careloop shows no member's points"
            ) from exc

    def login(self) -> str:
        with self._lock:
            row = self._kept.execute("SELECT session_user").fetchone()
        return str(row[0]) if row else "unknown"
