"""What ``patient.loyalty.*`` conditions read (issue 17): member, tier, tier_since, requalify_at, privileges,
points (available), pending, qualifying (over the tier period), badges. Worked out only when a condition reads it.
Pure."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from engine.journeys.loyalty_definition import LoyaltyProgramme
from engine.journeys.loyalty_expiry import back
from engine.journeys.state import PatientState
from engine.loyalty import Batch, BatchState

NOT_A_MEMBER = {"member": False}


def loyalty_view(
    state: PatientState, now: datetime, programme: LoyaltyProgramme | None, zone: str
) -> dict[str, object]:
    loyalty = state.loyalty
    if loyalty is None or programme is None:
        return dict(NOT_A_MEMBER)
    batches = loyalty.ledger.batches
    available = sum(b.remaining for b in batches if b.state is BatchState.AVAILABLE and b.remaining and live(b, now))
    pending = sum(b.remaining for b in batches if b.state is BatchState.PENDING)
    privileges: list[str] = []
    qualifying = sum(b.qualifying_credit for b in batches if b.credited_at is not None and b.credited_at <= now)
    if programme.tiers is not None:
        level = next((lv for lv in programme.tiers.levels if lv.id == loyalty.tier), None)
        privileges = list(level.privileges) if level else []
        start = back(now, programme.tiers.period, ZoneInfo(state.profile.timezone or zone))
        qualifying = sum(
            b.qualifying_credit for b in batches if b.credited_at is not None and start < b.credited_at <= now
        )
    return {
        "member": True,
        "tier": loyalty.tier,
        "tier_since": loyalty.tier_since.isoformat(),
        "requalify_at": loyalty.requalify_at.isoformat() if loyalty.requalify_at else None,
        "privileges": privileges,
        "points": available - loyalty.ledger.debt,
        "pending": pending,
        "qualifying": qualifying,
        "badges": sorted(loyalty.badges),
    }


def live(batch: Batch, now: datetime) -> bool:
    """Not past its expiry (the expiry fires before any decision at its instant; this holds a view read in
    between to the same rule)."""
    return batch.expires_at is None or batch.expires_at > now
