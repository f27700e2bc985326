"""Referrals in the core (issue 17, design §6), decided in the loyalty pass. Pure.

The referee and the referrer are on different partitions: each side decides on its own state only and hands the
other an input (``HandOver``), whose id derives from the event that caused it, so a replay hands over the same ids.

1. The referee claims a code (``patient.registered`` with ``referral``, or ``referral.submitted``): refused on its
   side (programme_off, self_referral, already_referred, unknown_code, too_late), else ``referral.claimed`` and
   ``referral.received`` handed to the referrer.
2. The referrer answers: refused (programme_off, code_mismatch, code_used_up) or ``referral.accepted`` (one use of
   the code), and ``referral.answered`` handed back. A referee it already accepted is answered again, never counted
   or rewarded twice.
3. The referee on the answer: ``referral.refused`` (side referrer), or ``referral.attributed`` with the referee's
   reward. With ``reward_after: first_visit`` (the default) both rewards wait for the referee's first completed visit
   since the claim (``encounter.completed``, or a visit already recorded when the answer arrives): the referee
   records ``referral.accepted`` meanwhile, attributes at that visit and hands ``referral.converted`` to the referrer,
   who earns then. With ``attribution`` the referrer earns at step 2, the referee at step 3.

Rewards are the pass's own earnings (``points.earned``, rules ``referral-referrer`` and ``referral-referee`` keyed by
the referral id, so one referral rewards each side once), with the programme's expiry. An erased referrer ignores
inputs (erased.py): the referee's claim then stays pending, and explain says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from engine.journeys.effects import HandOver
from engine.journeys.loyalty_definition import (
    REFEREE_RULE,
    REFERRER_RULE,
    EarnRule,
    LoyaltyProgramme,
    ReferralReward,
    Referrals,
)
from engine.journeys.loyalty_expiry import moved
from engine.journeys.loyalty_state import LoyaltyState, PendingReferral
from engine.journeys.loyalty_tiers import member_zone, shown
from engine.journeys.run import Run
from events import referrals as rf
from events.base import Event, Source
from events.encounters import EncounterCompleted
from events.patient import PatientRegistered
from events.referral_codes import referral_code

# The system the hand-overs come from: not the engine's own (they are inputs of the patient they go to).
HANDED_OVER_BY = "careloop-referrals"
Earn = Callable[[Run, LoyaltyProgramme, EarnRule, Event, Mapping[str, Any]], None]
Refusal = tuple[rf.RefusalReason, str]


def decide(run: Run, programme: LoyaltyProgramme, trigger: Event, earn: Earn) -> None:
    """What a member's input means for referrals (``earn``: the pass's earning, for the rewards)."""
    match trigger:
        case PatientRegistered(referral=claimed) if claimed is not None:
            claim(run, programme.referrals, trigger, claimed.code, claimed.referrer_patient_id)
        case rf.ReferralSubmitted():
            claim(run, programme.referrals, trigger, trigger.code, trigger.referrer_patient_id)
        case rf.ReferralReceived():
            answer(run, programme, trigger, earn)
        case rf.ReferralAnswered():
            hear(run, programme, trigger, earn)
        case rf.ReferralConverted():
            converted(run, programme, trigger, earn)
        case EncounterCompleted():
            first_visit(run, programme, trigger, earn)


def without_membership(run: Run, programme: LoyaltyProgramme | None, trigger: Event | None) -> None:
    """A referral input of a patient who is not a member (no programme, deceased, or unknown here) is still
    answered: the claim refused, the referrer's side answering for it. An answer or a conversion then changes
    nothing (there are no points to give)."""
    off = programme is None or programme.referrals is None
    why: Refusal = ("programme_off", NO_SECTION) if off else ("not_member", "the patient is not a loyalty member")
    match trigger:
        case PatientRegistered(referral=claimed) if claimed is not None:
            refuse(run, claimed_sides(run, claimed.code, claimed.referrer_patient_id), rf.REFEREE, why)
        case rf.ReferralSubmitted():
            refuse(run, claimed_sides(run, trigger.code, trigger.referrer_patient_id), rf.REFEREE, why)
        case rf.ReferralReceived():
            refuse(run, received_sides(run, trigger), rf.REFERRER, why)
            reply(run, trigger, why[0])


def unknown_patient(run: Run, trigger: Event | None) -> bool:
    """A hand-over to a patient of whom nothing was recorded before it: nobody to enrol."""
    return isinstance(trigger, rf.HANDED_OVER) and run.state.version == len(run.events)


NO_SECTION = "the loaded journeys file has no loyalty.referrals section"


# --- 1. the referee claims ---------------------------------------------------------------------------------------


def claim(run: Run, referrals: Referrals | None, trigger: Event, code: str, referrer: str | None) -> None:
    sides = claimed_sides(run, code, referrer)
    refusal = claim_refusal(run, referrals, trigger, code, referrer)
    if refusal is not None:
        refuse(run, sides, rf.REFEREE, refusal)
        return
    assert referrer is not None  # claim_refusal refuses an unknown code
    run.emit(
        rf.ReferralClaimed, **sides, reason="claimed another member's referral code; the referrer's answer is awaited"
    )
    received = handed(run, rf.ReferralReceived, referrer, trigger, referral_id=sides["referral_id"], code=code,
                      referee_patient_id=run.state.patient_id)  # fmt: skip
    run.effect(HandOver(referrer, (received,)))


def claim_refusal(
    run: Run, referrals: Referrals | None, trigger: Event, code: str, referrer: str | None
) -> Refusal | None:
    loyalty = run.state.loyalty
    assert loyalty is not None
    if referrals is None:
        return "programme_off", NO_SECTION
    if code == referral_code(run.state.patient_id) or referrer == run.state.patient_id:
        return "self_referral", "the code is the patient's own referral code"
    if loyalty.referred_by is not None:
        return "already_referred", "the patient was already attributed to a referrer"
    if loyalty.referral is not None:
        return "already_referred", f"the patient's claim of {shown(loyalty.referral.claimed_at, run)} is still open"
    if referrer is None:
        return "unknown_code", "no member has this referral code"
    deadline = moved(loyalty.enrolled_at, referrals.claim_within, member_zone(run.state, run))
    if trigger.occurred_at > deadline:
        return "too_late", (
            f"claimed on {shown(trigger.occurred_at, run)}, more than loyalty.referrals.claim_within "
            f"({referrals.claim_within}) after the patient enrolled on {shown(loyalty.enrolled_at, run)}"
        )
    return None


# --- 2. the referrer answers -------------------------------------------------------------------------------------


def answer(run: Run, programme: LoyaltyProgramme, received: rf.ReferralReceived, earn: Earn) -> None:
    loyalty = run.state.loyalty
    assert loyalty is not None
    if received.referee_patient_id in loyalty.referees:
        reply(run, received, None)  # the referee asks again (it was erased and came back): the same answer, no reward
        return
    refusal = answer_refusal(run, programme.referrals, loyalty, received)
    if refusal is not None:
        refuse(run, received_sides(run, received), rf.REFERRER, refusal)
        reply(run, received, refusal[0])
        return
    referrals = programme.referrals
    assert referrals is not None  # answer_refusal refuses without a referrals section
    uses = f"use {len(loyalty.referees) + 1} of {referrals.max_uses} of the member's code"
    later = referrals.reward_after == "first_visit"
    then = "; the rewards wait for the referee's first completed visit" if later else ""
    run.emit(rf.ReferralAccepted, **received_sides(run, received), reason=f"accepted: {uses}{then}")
    if not later:
        reward(run, programme, REFERRER_RULE, referrals.referrer, received, earn)
    reply(run, received, None)


def answer_refusal(
    run: Run, referrals: Referrals | None, loyalty: LoyaltyState, received: rf.ReferralReceived
) -> Refusal | None:
    if referrals is None:
        return "programme_off", NO_SECTION
    if received.code != referral_code(run.state.patient_id):
        return "code_mismatch", "the code claimed is not this member's referral code"
    if len(loyalty.referees) >= referrals.max_uses:
        return "code_used_up", (
            f"the member's code has already brought {len(loyalty.referees)} referees "
            f"(loyalty.referrals.max_uses: {referrals.max_uses})"
        )
    return None


def reply(run: Run, received: rf.ReferralReceived, refused: rf.RefusalReason | None) -> None:
    outcome: Literal["accepted", "refused"] = "accepted" if refused is None else "refused"
    answered = handed(run, rf.ReferralAnswered, received.referee_patient_id, received,
                      referral_id=received.referral_id, code=received.code, outcome=outcome, code_reason=refused,
                      referrer_patient_id=run.state.patient_id)  # fmt: skip
    run.effect(HandOver(received.referee_patient_id, (answered,)))


# --- 3. the referee hears the answer, then comes for the first visit ------------------------------------------


def hear(run: Run, programme: LoyaltyProgramme, answered: rf.ReferralAnswered, earn: Earn) -> None:
    loyalty = run.state.loyalty
    assert loyalty is not None
    pending = loyalty.referral
    if pending is None or pending.referral_id != answered.referral_id or pending.accepted_at is not None:
        return  # the answer to a claim already settled (a repeated answer): nothing is decided twice
    sides = pending_sides(run, pending)
    if answered.code_reason is not None:
        words = REFERRER_REFUSALS.get(answered.code_reason, answered.code_reason)
        refuse(run, sides, rf.REFERRER, (answered.code_reason, f"the referrer's side refused the claim: {words}"))
        return
    referrals = programme.referrals
    if referrals is None:
        refuse(run, sides, rf.REFEREE, ("programme_off", NO_SECTION))
        return
    visit = run.state.profile.last_visit_at
    if referrals.reward_after == "attribution":
        attribute(run, programme, pending, "accepted by the referrer", earn)
    elif visit is not None and visit >= pending.claimed_at:
        attribute(run, programme, pending, "accepted by the referrer after the patient's first visit", earn)
    else:
        reason = "accepted by the referrer; attribution and both rewards wait for the patient's first completed visit"
        run.emit(rf.ReferralAccepted, **sides, reason=reason)


REFERRER_REFUSALS: dict[str, str] = {
    "code_used_up": "the code has brought as many referees as loyalty.referrals.max_uses allows",
    "code_mismatch": "the code is not the referrer's own",
    "programme_off": "the referrer's programme has no loyalty.referrals section",
    "not_member": "the referrer is not a loyalty member",
}


def first_visit(run: Run, programme: LoyaltyProgramme, visit: EncounterCompleted, earn: Earn) -> None:
    loyalty = run.state.loyalty
    pending = loyalty.referral if loyalty else None
    if pending is None or pending.accepted_at is None or visit.occurred_at < pending.claimed_at:
        return
    if programme.referrals is None:
        return  # the section was removed since the referrer accepted: nothing to reward, the claim stays as it was
    attribute(run, programme, pending, "the patient's first completed visit since the claim", earn, visit)


def attribute(
    run: Run, programme: LoyaltyProgramme, pending: PendingReferral, why: str, earn: Earn, visit: Event | None = None
) -> None:
    referrals = programme.referrals
    assert referrals is not None
    attributed = run.emit(rf.ReferralAttributed, **pending_sides(run, pending), reason=f"attributed: {why}")
    reward(run, programme, REFEREE_RULE, referrals.referee, attributed, earn)
    if referrals.reward_after == "first_visit":
        cause = visit or attributed
        done = handed(run, rf.ReferralConverted, pending.referrer_patient_id, cause,
                      referral_id=pending.referral_id, referee_patient_id=run.state.patient_id)  # fmt: skip
        run.effect(HandOver(pending.referrer_patient_id, (done,)))


def converted(run: Run, programme: LoyaltyProgramme, done: rf.ReferralConverted, earn: Earn) -> None:
    """The referrer's reward for a referee it accepted, once that referee came (each referral rewards once)."""
    loyalty = run.state.loyalty
    referrals = programme.referrals
    if referrals is not None and loyalty is not None and done.referee_patient_id in loyalty.referees:
        reward(run, programme, REFERRER_RULE, referrals.referrer, done, earn)


# --- shared --------------------------------------------------------------------------------------------------------


def reward(run: Run, programme: LoyaltyProgramme, rule_id: str, spec: ReferralReward, cause: Event, earn: Earn) -> None:
    """The side's reward as an earning of the programme (its expiry, its ledger), keyed by the referral."""
    rule = EarnRule(id=rule_id, on=cause.type, key="referral_id", points=spec.points, qualifying=spec.qualifying)
    earn(run, programme, rule, cause, cause.model_dump(mode="json"))


def refuse(run: Run, sides: dict[str, Any], side: rf.Side, refusal: Refusal) -> None:
    code_reason, words = refusal
    run.emit(
        rf.ReferralRefused, **sides, side=side, code_reason=code_reason, reason=f"refused ({code_reason}): {words}"
    )


def handed(run: Run, cls: type[Event], to: str, cause: Event, **fields: Any) -> Any:
    """An input for the other side, identified by the event that caused it (the same cause hands over the same id)."""
    source = Source(system=HANDED_OVER_BY, message_id=cause.event_id)
    return cls.create(source=source, patient_id=to, occurred_at=run.now, recorded_at=run.now,
                      causation_id=cause.event_id, **fields)  # fmt: skip


def sides(referral_id: str, code: str, referrer: str | None, referee: str) -> dict[str, Any]:
    return {"referral_id": referral_id, "code": code, "referrer_patient_id": referrer, "referee_patient_id": referee}


def claimed_sides(run: Run, code: str, referrer: str | None) -> dict[str, Any]:
    referee = run.state.patient_id
    return sides(rf.referral_id(referee, code), code, referrer, referee)


def received_sides(run: Run, received: rf.ReferralReceived) -> dict[str, Any]:
    return sides(received.referral_id, received.code, run.state.patient_id, received.referee_patient_id)


def pending_sides(run: Run, pending: PendingReferral) -> dict[str, Any]:
    return sides(pending.referral_id, pending.code, pending.referrer_patient_id, run.state.patient_id)
