"""How the loyalty events change a member's state. The ledger takes the entries each decision recorded
(``engine.loyalty.apply``): replay never re-runs an allocation. Pure; reads no catalog."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from engine.journeys.fold_inputs import Changes
from engine.journeys.loyalty_state import LoyaltyState, PendingReferral, expiring_key, with_entries, with_warned
from engine.journeys.state import PatientState
from engine.loyalty import Entry, EntryKind
from events import loyalty as lo
from events import referrals as rf
from events.base import Event

# The loyalty events that change a member's state (the refusals, repeats and skipped reversals change nothing).
LOYALTY_EVENTS = (
    lo.LoyaltyEnrolled,
    lo.PointsEarned,
    lo.PointsReleased,
    lo.PointsExpired,
    lo.PointsExpiring,
    lo.PointsSpent,
    lo.PointsAdjusted,
    lo.PointsReversed,
    lo.TierChanged,
    lo.TierKept,
    lo.TierAtRisk,
    lo.BadgeAwarded,
    lo.BadgeProgressed,
    rf.ReferralClaimed,
    rf.ReferralAccepted,
    rf.ReferralAttributed,
    rf.ReferralRefused,
)


def ledger_entries(entries: tuple[lo.LedgerEntry, ...]) -> tuple[Entry, ...]:
    return tuple(Entry(**{**entry.model_dump(), "kind": EntryKind(entry.kind)}) for entry in entries)


def loyalty_changes(state: PatientState, event: Event) -> Changes:
    if isinstance(event, lo.LoyaltyEnrolled):
        at = event.occurred_at
        return {"loyalty": LoyaltyState(event.programme_version, at, event.tier, at)}
    loyalty = state.loyalty
    if loyalty is None:
        return {}  # a decision about a member whose enrolment is not in this history: nothing to apply it to
    return {"loyalty": changed(loyalty, event)}


def changed(loyalty: LoyaltyState, event: Event) -> LoyaltyState:
    match event:
        case lo.PointsExpiring():
            return with_warned(loyalty, expiring_key(event.expires_at))
        case lo.TierAtRisk():
            return with_warned(loyalty, f"at-risk:{event.requalify_at.isoformat()}")
        case lo.TierChanged():
            return replace(loyalty, tier=event.to_tier, tier_since=event.occurred_at, requalify_at=event.requalify_at)
        case lo.TierKept():
            return replace(loyalty, requalify_at=event.requalify_at)
        case rf.ReferralClaimed() | rf.ReferralAccepted() | rf.ReferralAttributed() | rf.ReferralRefused():
            return referral_changed(loyalty, event)
        case lo.BadgeProgressed():
            counted = tuple(zip(event.evidence, event.matched_at, strict=True))
            return replace(loyalty, progress=MappingProxyType({**loyalty.progress, event.badge_id: counted}))
    assert isinstance(event, lo._LedgerEvent)
    loyalty = with_entries(loyalty, ledger_entries(event.entries), event.occurred_at)
    match event:
        case lo.PointsSpent():
            units = loyalty.redeemed.get(event.reward_id, 0) + event.quantity
            return replace(loyalty, redeemed=MappingProxyType({**loyalty.redeemed, event.reward_id: units}))
        case lo.PointsAdjusted():
            applied = (event.points, event.event_id)
            return replace(loyalty, adjustments=MappingProxyType({**loyalty.adjustments, event.external_id: applied}))
        case lo.BadgeAwarded():
            badges = MappingProxyType({**loyalty.badges, event.badge_id: event.occurred_at})
            if event.badge_id not in loyalty.progress:
                return replace(loyalty, badges=badges)
            # an awarded badge is counted no more
            progress = {k: v for k, v in loyalty.progress.items() if k != event.badge_id}
            return replace(loyalty, badges=badges, progress=MappingProxyType(progress))
    return loyalty


def referral_changed(
    loyalty: LoyaltyState, event: rf.ReferralClaimed | rf.ReferralAccepted | rf.ReferralAttributed | rf.ReferralRefused
) -> LoyaltyState:
    """Each side keeps its own half: the referee its claim (then whom it was attributed to), the referrer its
    referees. Which side recorded the event is whose patient id it carries."""
    pending = loyalty.referral
    ours = pending is not None and pending.referral_id == event.referral_id
    match event:
        case rf.ReferralClaimed() if event.referrer_patient_id is not None:
            claim = PendingReferral(event.referral_id, event.code, event.referrer_patient_id, event.occurred_at)
            return replace(loyalty, referral=claim)
        case rf.ReferralAccepted() if event.patient_id == event.referrer_patient_id:
            if event.referee_patient_id is None or event.referee_patient_id in loyalty.referees:
                return loyalty
            return replace(loyalty, referees=(*loyalty.referees, event.referee_patient_id))
        case rf.ReferralAccepted() if ours and pending is not None:
            return replace(loyalty, referral=replace(pending, accepted_at=event.occurred_at))
        case rf.ReferralAttributed() if ours:
            return replace(loyalty, referral=None, referred_by=event.referrer_patient_id)
        case rf.ReferralRefused() if ours and event.side == rf.REFERRER:
            return replace(loyalty, referral=None)  # the referrer's side refused the claim: the referee may claim anew
    return loyalty  # the referee's own refusals leave a claim already waiting as it was
