"""Referrals (issue 17, design §6): a member's referral code, carried in by a new patient, attributes the newcomer
(the referee) to the member who gave it (the referrer), and the programme rewards both.

The two patients live on different partitions, so the core never reads the other side: each side decides on its own
state and hands the other an input (``HandOver``). The referee's claim becomes ``referral.received`` at the referrer,
the referrer's answer ``referral.answered`` at the referee and, when the rewards wait for the referee's first visit,
that visit ``referral.converted`` at the referrer. Only the worker publishes these three; ``referral.submitted`` is a
code given after registration (by the loyalty API or a desk). The engine events say what each side decided, with the
reason in words and, on a refusal, its ``code_reason``. Rewards are ordinary ``points.earned`` (rule ids
``referral-referrer`` and ``referral-referee``)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from events.base import Event
from events.ids import deterministic_id
from events.referral_codes import normalise_code

RefusalReason = Literal[
    "unknown_code",  # no member has the code (the intake found no referrer)
    "self_referral",  # the code is the referee's own
    "already_referred",  # the referee was already attributed, or has a claim waiting for its answer
    "code_used_up",  # the referrer's code has brought max_uses referees
    "code_mismatch",  # the code is not the referrer's (a directory row left by a merge)
    "too_late",  # claimed more than claim_within after the referee enrolled
    "programme_off",  # the loaded journeys file has no loyalty.referrals section
    "not_member",  # the referrer is not (and cannot become) a member
]
Side = Literal["referee", "referrer"]
# Who refused: the referee's side refuses a claim itself; the referrer's side answers with its refusal.
REFEREE: Side = "referee"
REFERRER: Side = "referrer"

REFERRAL_ID = "The referral: deterministic_id(referee patient id, code)."


def referral_id(referee_patient_id: str, code: str) -> str:
    """One referral per referee and code: the same claim made again is the same referral."""
    return deterministic_id(referee_patient_id, code)


def _printed(value: str) -> str:
    if normalise_code(value) != value:
        raise ValueError("must be a referral code in its printed form, 12 Crockford symbols as XXXX-XXXX-XXXX")
    return value


class _WithCode(Event):
    code: str = Field(description="The referrer's code in its printed form, e.g. 'K7QM-2XRP-9D4T'.")

    _code = field_validator("code")(_printed)


# --- inputs (clinical topic, keyed by patient) -----------------------------------------------------------------


class ReferralSubmitted(_WithCode):
    """A code the patient gave after registration (the loyalty API, a desk), as the caller resolved it."""

    type: Literal["referral.submitted"] = "referral.submitted"
    referrer_patient_id: str | None = Field(
        default=None, min_length=1, description="Whose code it is; null: no member has it (refused, unknown_code)."
    )


class ReferralReceived(_WithCode):
    """Hand-over to the referrer: a referee claims the referrer's code. Sent by the worker only."""

    type: Literal["referral.received"] = "referral.received"
    referral_id: str = Field(min_length=1, description=REFERRAL_ID)
    referee_patient_id: str = Field(min_length=1)


class ReferralAnswered(_WithCode):
    """Hand-over to the referee: the referrer's side accepted or refused the claim. Sent by the worker only."""

    type: Literal["referral.answered"] = "referral.answered"
    referral_id: str = Field(min_length=1, description=REFERRAL_ID)
    outcome: Literal["accepted", "refused"]
    code_reason: RefusalReason | None = Field(default=None, description="Why it was refused; null when accepted.")
    referrer_patient_id: str = Field(min_length=1)

    @model_validator(mode="after")
    def _reason_with_refusal(self) -> Self:
        if (self.outcome == "refused") != (self.code_reason is not None):
            raise ValueError("code_reason is required when the outcome is refused, and only then")
        return self


class ReferralConverted(Event):
    """Hand-over to the referrer: the referee's first completed visit, which the rewards waited for. Worker only."""

    type: Literal["referral.converted"] = "referral.converted"
    referral_id: str = Field(min_length=1, description=REFERRAL_ID)
    referee_patient_id: str = Field(min_length=1)


# Inputs no journey may enter on and no earn rule may count: they are the referral's own plumbing.
REFERRAL_INPUTS = ("referral.submitted", "referral.received", "referral.answered", "referral.converted")
# The hand-overs only the worker sends, each the other side's decision delivered as an input.
HANDED_OVER = (ReferralReceived, ReferralAnswered, ReferralConverted)


# --- engine events ---------------------------------------------------------------------------------------------


class _ReferralEvent(_WithCode):
    referral_id: str = Field(min_length=1, description=REFERRAL_ID)
    referrer_patient_id: str | None = Field(default=None, description="Null when no member has the code.")
    referee_patient_id: str | None = None
    reason: str = Field(default="", description="Why this happened, in words staff can read.")


class ReferralClaimed(_ReferralEvent):
    """The referee's side: the claim is sent to the referrer, whose answer is awaited."""

    type: Literal["referral.claimed"] = "referral.claimed"


class ReferralAccepted(_ReferralEvent):
    """The referrer's side accepted the referee (one use of the code); recorded on the referee's side too when the
    rewards wait for the referee's first visit."""

    type: Literal["referral.accepted"] = "referral.accepted"


class ReferralAttributed(_ReferralEvent):
    """The referee's side: the referee is attributed to the referrer (and earns the referee's reward)."""

    type: Literal["referral.attributed"] = "referral.attributed"


class ReferralRefused(_ReferralEvent):
    """Either side refused the referral, with the reason."""

    type: Literal["referral.refused"] = "referral.refused"
    side: Side = Field(description="referee: refused on the referee's side; referrer: the referrer's side refused.")
    code_reason: RefusalReason
