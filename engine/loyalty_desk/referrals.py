"""A referral code given after registration (`POST /members/{id}/referral`, `careloop loyalty refer`): checked and
normalised (events/referral_codes.py), resolved to its member through ``referral_codes`` (the caller resolves it,
as events/referrals.py says: null when no member has it, which the core refuses as unknown_code), published as
``referral.submitted`` and answered with the referee side's decision, read from ``referrals`` by the referral's id
(deterministic_id(referee, code)). A claim waits for the referrer's side on another partition: still ``claimed``
when the wait runs out, it is pending."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, cast

from engine.loyalty_desk.errors import InvalidRequestError
from engine.loyalty_desk.ports import Caller
from events.base import Source
from events.referral_codes import normalise_code
from events.referrals import ReferralSubmitted, referral_id

DECIDED = ("accepted", "attributed", "refused")


@dataclass(frozen=True, slots=True)
class Referral:
    """A row of ``referrals``: the referee's claim of a code, with both sides' decisions on it."""

    referral_id: str
    status: Literal["claimed", "accepted", "attributed", "refused"]
    refused_code: str | None
    reason: str
    claimed_at: datetime


class Referrals(Protocol):
    def code_owner(self, code: str) -> str | None:
        """The member whose referral code it is (printed form), or None."""
        ...

    def referral(self, referral_id: str) -> Referral | None: ...


@dataclass(frozen=True, slots=True)
class ReferralOutcome:
    """``status`` the referral's, or pending (nothing decided within the wait, or still waiting for the referrer)."""

    status: Literal["claimed", "accepted", "attributed", "refused", "pending"]
    request_id: str
    referral_id: str
    referral: Referral | None
    earlier: bool = False


def printed(code: object) -> str:
    found = normalise_code(code) if isinstance(code, str) else None
    if found is None:
        raise InvalidRequestError("code", "not a referral code: 12 letters and digits, as XXXX-XXXX-XXXX")
    return found


def submitted(patient_id: str, code: str, owner: str | None, caller: Caller, now: datetime) -> ReferralSubmitted:
    """The input: its id from the client, the code and the referee (one claim per referee and code)."""
    return cast(
        ReferralSubmitted,
        ReferralSubmitted.create(
            source=Source(system=caller.client, message_id=code),
            discriminator=patient_id,
            patient_id=patient_id,
            occurred_at=now,
            recorded_at=now,
            code=code,
            referrer_patient_id=owner,
        ),
    )


def outcome(request_id: str, patient_id: str, code: str, found: Referral | None, earlier: bool) -> ReferralOutcome:
    rid = referral_id(patient_id, code)
    if found is None or found.status not in DECIDED:
        return ReferralOutcome("pending", request_id, rid, found, earlier)
    return ReferralOutcome(found.status, request_id, rid, found, earlier)
