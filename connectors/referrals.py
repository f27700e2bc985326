"""Whose referral code is it: the port the intakes ask when a registration carries a referral code (design §6).

A code is ``referral_code(patient_id)`` (events/referral_codes.py), a hash: its owner is found in the
``referral_codes`` table the referrals projection keeps (a row per enrolled member), never by reversing it. The
intake stamps what it found on ``patient.registered`` (``referral.referrer_patient_id``, null when no member has
the code); the journey core decides the claim.

``claim`` reads what a message carried: text that is no code is ``None`` (the intake reports the field and still
registers the patient); a code is normalised to its printed form before it is looked up. A code points at the
referrer: it is never logged, only the field that held it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Protocol

import psycopg

from engine.plumbing.connections import CONNECT_TIMEOUT
from engine.plumbing.kept_connection import KeptConnection
from events.patient import ReferralClaim
from events.referral_codes import normalise_code, referral_code

WITHOUT_REFERRAL = "the patient is registered without a referral"
NOT_A_CODE = f"not a referral code (expected 12 letters and digits like K7QM-2XRP-9D4T, without U); {WITHOUT_REFERRAL}"


class ReferralLookupError(RuntimeError):
    """The directory did not answer. Not the message's fault: it propagates, and the message is retried."""


class ReferralDirectory(Protocol):
    def referrer_of(self, code: str) -> str | None:
        """The patient id whose code ``code`` (printed form) is, or None when no member has it."""
        ...


def claim(text: str, directory: ReferralDirectory) -> ReferralClaim | None:
    """The claim a registration makes with ``text``, resolved; None when ``text`` is not a code."""
    code = normalise_code(text)
    if code is None:
        return None
    return ReferralClaim(code=code, referrer_patient_id=directory.referrer_of(code))


class MemoryReferrals:
    """The directory for dry runs and tests: codes given, or computed for the members given."""

    def __init__(self, codes: Mapping[str, str] | None = None) -> None:
        self._codes = dict(codes or {})

    @classmethod
    def of_members(cls, patient_ids: Iterable[str]) -> MemoryReferrals:
        return cls({referral_code(p): p for p in patient_ids})

    def referrer_of(self, code: str) -> str | None:
        return self._codes.get(code)

    def close(self) -> None:
        pass  # nothing held


class PostgresReferrals:
    """Looks codes up in ``referral_codes(code PRIMARY KEY, patient_id)`` on one kept connection, shared by a
    live intake's threads under a lock. careloop_intake needs SELECT on the table."""

    def __init__(self, database_url: str, name: str = "careloop-referrals") -> None:
        self._conn = KeptConnection(database_url, name, connect_timeout=CONNECT_TIMEOUT)
        self._lock = threading.Lock()

    def referrer_of(self, code: str) -> str | None:
        with self._lock:
            try:
                row = self._conn.execute("SELECT patient_id FROM referral_codes WHERE code = %s", (code,)).fetchone()
            except psycopg.errors.UndefinedTable as exc:
                raise ReferralLookupError(
                    "the referral_codes table does not exist yet: start the projections (`careloop projections run`)"
                ) from exc
            except psycopg.errors.InsufficientPrivilege as exc:
                raise ReferralLookupError(
                    "this intake's login may not read referral_codes: `careloop roles apply` grants careloop_intake "
                    "SELECT on it"
                ) from exc
            except psycopg.Error as exc:
                self._conn.close()
                raise ReferralLookupError(f"PostgreSQL did not answer the referral code lookup: {exc}") from exc
        return None if row is None else str(row[0])

    def close(self) -> None:
        self._conn.close()
