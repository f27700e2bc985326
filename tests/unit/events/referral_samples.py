"""A payload of every referral event type (beyond the envelope): a member (the referrer) whose code a newcomer (the
referee) registered with, as each side records it."""

from __future__ import annotations

from typing import Any

REFERRER = "pt-0a1b2c3d4e5f60718293"
REFEREE = "pt-9f8e7d6c5b4a39281706"
CODE = "53NZ-C24F-V7XV"  # referral_code(REFERRER)
REFERRAL_ID = "eb650d1b-a57e-5542-80ce-eb96f922be50"  # referral_id(REFEREE, CODE)
BOTH = {"referral_id": REFERRAL_ID, "code": CODE, "referrer_patient_id": REFERRER, "referee_patient_id": REFEREE}

REFERRAL_PAYLOADS: dict[str, dict[str, Any]] = {
    "referral.submitted": {"code": CODE, "referrer_patient_id": REFERRER},
    "referral.received": {"referral_id": REFERRAL_ID, "code": CODE, "referee_patient_id": REFEREE},
    "referral.answered": {
        "referral_id": REFERRAL_ID,
        "code": CODE,
        "outcome": "refused",
        "code_reason": "code_used_up",
        "referrer_patient_id": REFERRER,
    },
    "referral.converted": {"referral_id": REFERRAL_ID, "referee_patient_id": REFEREE},
    "referral.claimed": {**BOTH, "reason": "claimed the code of a member; waiting for the referrer's answer"},
    "referral.accepted": {**BOTH, "reason": "accepted: use 1 of 10"},
    "referral.attributed": {**BOTH, "reason": "attributed to the referrer at the first completed visit"},
    "referral.refused": {
        **BOTH,
        "side": "referrer",
        "code_reason": "code_used_up",
        "reason": "the code has already brought its 10 referees (loyalty.referrals.max_uses)",
    },
}
