"""Events -> referral_codes and referrals rows. Pure.

``referral_codes`` gets each member's code on ``loyalty.enrolled`` (recomputed from the patient id when an older
enrolment did not record it). ``referrals`` follows one referral through both sides' decisions, keyed by its id: the
referee's claim opens the row, the referrer's acceptance or refusal and the referee's attribution update it. The two
sides are different partitions, but each side acts only on the other's hand-over, which the worker publishes once
the decision that made it is stored, so the log holds a referral's decisions in causal order. A refusal on the referee's
side of a new attempt (a second code, one claimed twice) never rewrites a referral already recorded.

Erasure keeps the other side: the erased patient's code goes, and their side of each referral becomes NULL.
"""

from __future__ import annotations

from typing import Any

from events import loyalty as lo
from events import referrals as rf
from events.base import Event
from events.patient import PatientErased
from events.referral_codes import referral_code
from projections.base import Projection
from projections.ops import Delete, Op, Update, Upsert

CODES, REFERRALS = "referral_codes", "referrals"
REFUSED = {"status": "refused"}
LATER = ("patient_id", "code", "referrer_patient_id", "referee_patient_id", "claimed_at", "status", "reason")


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq`` is not needed here)."""
    match e:
        case lo.LoyaltyEnrolled():
            code = e.referral_code or referral_code(e.patient_id)
            return [Upsert(CODES, ("code", "patient_id"), {"code": code, "patient_id": e.patient_id})]
        case rf.ReferralClaimed():
            return [Upsert(REFERRALS, ("referral_id",), opened(e, "claimed"))]
        case rf.ReferralAccepted() if e.patient_id == e.referrer_patient_id:
            values = {"status": "accepted", "accepted_at": e.occurred_at, "reason": e.reason}
            return [Update(REFERRALS, values, {"referral_id": e.referral_id}, unless=REFUSED)]
        case rf.ReferralAttributed():
            values = {"status": "attributed", "attributed_at": e.occurred_at, "reason": e.reason}
            return [Update(REFERRALS, values, {"referral_id": e.referral_id})]
        case rf.ReferralRefused() if e.side == rf.REFEREE and e.patient_id == e.referee_patient_id:
            row = {**opened(e, "refused"), "refused_side": e.side, "refused_code": e.code_reason}
            return [Upsert(REFERRALS, ("referral_id",), row, keep=(*LATER, "refused_side", "refused_code"))]
        case rf.ReferralRefused():
            values = {"status": "refused", "refused_side": e.side, "refused_code": e.code_reason, "reason": e.reason}
            return [Update(REFERRALS, values, {"referral_id": e.referral_id}, unless=REFUSED)]
    return []


def opened(e: rf.ReferralClaimed | rf.ReferralRefused, status: str) -> dict[str, Any]:
    return {
        "referral_id": e.referral_id,
        "patient_id": e.referee_patient_id,
        "code": e.code,
        "referrer_patient_id": e.referrer_patient_id,
        "referee_patient_id": e.referee_patient_id,
        "claimed_at": e.occurred_at,
        "status": status,
        "reason": e.reason,
    }


def erased(e: PatientErased) -> list[Op]:
    """The patient's code goes; each referral keeps the other side, the erased side NULL."""
    gone = e.patient_id
    return [
        Delete(CODES, {"patient_id": gone}),
        Update(REFERRALS, {"referrer_patient_id": None}, {"referrer_patient_id": gone}),
        Update(REFERRALS, {"referee_patient_id": None, "patient_id": None}, {"referee_patient_id": gone}),
    ]


PROJECTION = Projection(
    name="referrals",
    tables=(CODES, REFERRALS),
    changes=changes,
    reads=(lo.LoyaltyEnrolled, rf.ReferralClaimed, rf.ReferralAccepted, rf.ReferralAttributed, rf.ReferralRefused),
    forget=erased,
    package=__package__ or __name__,
)
