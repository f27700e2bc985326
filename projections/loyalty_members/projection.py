"""Loyalty engine events -> loyalty_memberships, loyalty_points_moves and loyalty_badges rows. Pure.

The balances follow from the ledger entries each engine event carries (events/loyalty.py ``entries``), as the core's
ledger adds them up (engine/loyalty/entries.py ``Entry.effect``): a row operation sets values and cannot add to a
balance, so each entry is kept as the change it makes (a move) and the ``loyalty_members`` view sums them
(schema.sql; balances.py is the same sum in memory). Tier, tier_since and requalify_at are what the enrolment and
the tier decisions recorded; a badge is a row of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from events import loyalty as lo
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Update, Upsert

MEMBERSHIPS = "loyalty_memberships"
MOVES = "loyalty_points_moves"
BADGES = "loyalty_badges"
PENDING_KINDS = frozenset({"pending-earned", "pending-reversed"})


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, lo.LoyaltyEnrolled):
        return [_enrolled(e)]
    ops: list[Op] = []
    if isinstance(e, lo._LedgerEvent) and e.entries:
        ops.extend(moves(e.event_id, e.patient_id, e.entries))
        ops.append(_touched(e, {}))
    if isinstance(e, lo.PointsEarned) and e.expiry_zone is not None:
        ops.append(_touched(e, {"zone": e.expiry_zone}))
    elif isinstance(e, lo.TierChanged):
        ops.append(_touched(e, {"tier": e.to_tier, "tier_since": e.occurred_at, "requalify_at": e.requalify_at}))
    elif isinstance(e, lo.TierKept):
        ops.append(_touched(e, {"requalify_at": e.requalify_at}))
    elif isinstance(e, lo.BadgeAwarded):
        ops.append(_badge(e))
        ops.append(_touched(e, {}))
    return ops


def _enrolled(e: lo.LoyaltyEnrolled) -> Upsert:
    values = {
        "patient_id": e.patient_id,
        "programme_version": e.programme_version,
        "enrolled_at": e.occurred_at,
        "tier": e.tier,
        "tier_since": e.occurred_at,
        "requalify_at": None,
        "referral_code": e.referral_code,
        "updated_at": e.occurred_at,
    }
    return Upsert(MEMBERSHIPS, ("patient_id",), values)


def _touched(e: Event, values: dict[str, Any]) -> Update:
    """The member's row with ``values`` and this event as its last change (none before the enrolment)."""
    return Update(MEMBERSHIPS, {**values, "updated_at": e.occurred_at}, {"patient_id": e.patient_id})


def moves(event_id: str, patient_id: str, entries: Iterable[lo.LedgerEntry]) -> list[Upsert]:
    return [Upsert(MOVES, ("event_id", "n"), move(event_id, patient_id, n, entry)) for n, entry in enumerate(entries)]


def move(event_id: str, patient_id: str, n: int, entry: lo.LedgerEntry) -> dict[str, Any]:
    """What one entry changes, as engine.loyalty's Entry.effect and its batch fold (engine/loyalty/replay.py) count
    it: a pending earning or reversal moves pending points, a release moves them from pending to available (the
    batch keeps them), repaying a debt moves nothing in the balances (the debt was counted when owed) but empties
    the batch; a qualifying-only entry moves no redeemable points."""
    redeemable = entry.amount if entry.redeemable else 0
    available, pending, remaining = redeemable, 0, redeemable
    if entry.kind in PENDING_KINDS:
        available, pending = 0, redeemable
    elif entry.kind == "became-available":
        pending, remaining = -redeemable, 0
    elif entry.kind == "debt-repaid":
        available = 0
    return {
        "event_id": event_id,
        "n": n,
        "patient_id": patient_id,
        "batch_id": entry.batch_id,
        "available": available,
        "pending": pending,
        "remaining": remaining if entry.batch_id is not None else 0,
        "expires_at": entry.expires_at,
    }


def _badge(e: lo.BadgeAwarded) -> Upsert:
    values = {"patient_id": e.patient_id, "badge_id": e.badge_id, "awarded_at": e.occurred_at, "event_id": e.event_id}
    return Upsert(BADGES, ("patient_id", "badge_id"), values)


PROJECTION = Projection(
    name="loyalty_members",
    tables=(MEMBERSHIPS, MOVES, BADGES),
    changes=changes,
    reads=(lo.LoyaltyEnrolled, lo._LedgerEvent, lo.PointsEarned, lo.TierChanged, lo.TierKept, lo.BadgeAwarded),
    package=__package__ or __name__,
)
