"""explain's referral lines (issue 17): each side's decisions with the other side as a pseudonymous reference (the
referrer by the code claimed, the referee by the referee's own referral code; never a patient id), and a claim still
waiting for the referrer's answer. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from events import referrals as rf
from events.base import Event
from events.referral_codes import referral_code

DECISIONS = (rf.ReferralClaimed, rf.ReferralAccepted, rf.ReferralAttributed, rf.ReferralRefused)
Decision = rf.ReferralClaimed | rf.ReferralAccepted | rf.ReferralAttributed | rf.ReferralRefused


def other_side(e: Decision) -> str:
    if e.patient_id == e.referee_patient_id:
        return f"referrer {e.code}"
    return f"referee {referral_code(e.referee_patient_id)}" if e.referee_patient_id else "referee unknown"


def line(e: Decision) -> str:
    return f"{e.type}: {e.reason} [{other_side(e)}]"


def waiting(patient_id: str, events: Iterable[Event]) -> list[tuple[datetime, str]]:
    """The patient's claim the referrer has not answered yet: nothing will move it if the referrer was erased."""
    open_claims: dict[str, rf.ReferralClaimed] = {}
    for e in events:
        if not isinstance(e, DECISIONS) or e.patient_id != patient_id or e.referee_patient_id != patient_id:
            continue
        if isinstance(e, rf.ReferralClaimed):
            open_claims[e.referral_id] = e
        elif not (isinstance(e, rf.ReferralRefused) and e.code_reason == "already_referred"):
            open_claims.pop(e.referral_id, None)  # answered (accepted, attributed or refused)
    return [
        (c.occurred_at, "referral: the claim is still waiting for the referrer's answer (a referrer who was erased "
         f"never answers) [{other_side(c)}]")
        for c in open_claims.values()
    ]  # fmt: skip
