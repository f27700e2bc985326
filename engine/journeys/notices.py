"""What a journey may enter on: the clinical inputs and the loyalty programme's notices to the member (issue 17,
design §7). A notice is an engine event the loyalty pass or a loyalty due item emits (points about to expire, a tier
reached or about to be lost, a badge earned, a referral attributed to the referee); the decision that emits it
offers it to the journeys at once. The loyalty requests (a redemption, an adjustment, the referral inputs) are
decided by the programme, never a journey's entry. Pure."""

from __future__ import annotations

from events import calendar as ca
from events import loyalty as lo
from events import referrals as rf
from events.base import Event
from events.catalog import CLINICAL_TYPES


def _by_type(*classes: type[Event]) -> dict[str, type[Event]]:
    return {cls.model_fields["type"].default: cls for cls in classes}


NOTICE_TYPES: dict[str, type[Event]] = _by_type(
    lo.PointsExpiring, lo.TierChanged, lo.TierAtRisk, lo.BadgeAwarded, rf.ReferralAttributed
)
# Requests decided by the loyalty pass against the member's state: a journey entering on one would act on a
# request whatever its answer (the answer, points.spent or points.redemption_refused, is no notice either).
# The referral inputs (a code given after registration, and the hand-overs between referee and referrer) are the
# programme's too.
LOYALTY_INPUTS: frozenset[str] = frozenset(
    _by_type(
        lo.PointsRedemptionRequested,
        lo.PointsAdjustmentRequested,
        rf.ReferralSubmitted,
        rf.ReferralReceived,
        rf.ReferralAnswered,
        rf.ReferralConverted,
    )
)
ENTRY_TYPES: dict[str, type[Event]] = {
    **{t: cls for t, cls in CLINICAL_TYPES.items() if t not in LOYALTY_INPUTS},
    **NOTICE_TYPES,
}
# Every type whose fields a journey's conditions may name: the entry types and the clinical events of exits, goals
# and waits (which may still be a loyalty request: an exit on a redemption request is a clinical-topic event), and
# calendar.reached, what a calendar entry enters on (event.* of its audience; never written as an entry event).
FIELD_TYPES: dict[str, type[Event]] = {**CLINICAL_TYPES, **NOTICE_TYPES, **_by_type(ca.CalendarReached)}


def is_notice(event_type: str) -> bool:
    return event_type in NOTICE_TYPES
