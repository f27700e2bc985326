"""Loyalty engine events -> points_entries, tier_history and loyalty_requests rows. Pure.

Every ledger entry an engine event carries is a row, with what the event says about its origin (the rule, the
reward, the badge, the cause). Each tier decision is a row. Each redemption or adjustment request the engine
decided is a row keyed by the request's event id, which the loyalty desk knows before it publishes the request
(deterministic ids, docs/events.md), so it can wait for the decision by reading this table. A request not decided
yet has no row.
"""

from __future__ import annotations

from typing import Any

from events import loyalty as lo
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Upsert

ENTRIES = "points_entries"
TIERS = "tier_history"
REQUESTS = "loyalty_requests"


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    ops: list[Op] = []
    if isinstance(e, lo._LedgerEvent):
        ops.extend(entries(e))
    if isinstance(e, lo.TierChanged | lo.TierKept):
        ops.append(_tier(e))
    request = _request(e)
    if request is not None:
        ops.append(Upsert(REQUESTS, ("request_event_id",), request))
    return ops


def entries(e: lo._LedgerEvent) -> list[Upsert]:
    origin = _origin(e)
    return [
        Upsert(
            ENTRIES,
            ("event_id", "n"),
            {
                "event_id": e.event_id,
                "n": n,
                "patient_id": e.patient_id,
                "entry_id": entry.id,
                "event_type": e.type,
                "at": entry.at,
                "kind": entry.kind,
                "batch_id": entry.batch_id,
                "points": entry.amount,
                "redeemable": entry.redeemable,
                "qualifying": entry.qualifying,
                **origin,
                "reason": entry.reason,
            },
        )
        for n, entry in enumerate(e.entries)
    ]


def _origin(e: lo._LedgerEvent) -> dict[str, Any]:
    """The rule, reward or badge an event's entries come from, and the event that caused them (none for a release
    or an expiry, which fall due by themselves)."""
    origin: dict[str, Any] = {"rule_id": None, "reward_id": None, "badge_id": None, "cause_event_id": None}
    if isinstance(e, lo.PointsEarned | lo.PointsReversed | lo.PointsReversalSkipped):
        origin |= {"rule_id": e.rule_id, "cause_event_id": e.cause_event_id}
    elif isinstance(e, lo.PointsSpent):
        origin |= {"reward_id": e.reward_id, "cause_event_id": e.request_event_id}
    elif isinstance(e, lo.PointsAdjusted):
        origin |= {"cause_event_id": e.request_event_id}
    elif isinstance(e, lo.BadgeAwarded):
        origin |= {"badge_id": e.badge_id, "cause_event_id": e.evidence[-1] if e.evidence else None}
    return origin


def _tier(e: lo.TierChanged | lo.TierKept) -> Upsert:
    if isinstance(e, lo.TierChanged):
        moved = {"from_tier": e.from_tier, "to_tier": e.to_tier, "direction": e.direction, "cause": e.cause}
    else:
        moved = {"from_tier": e.tier, "to_tier": e.tier, "direction": "kept", "cause": "requalified"}
    values = {
        "event_id": e.event_id,
        "patient_id": e.patient_id,
        "at": e.occurred_at,
        **moved,
        "qualifying": e.qualifying,
        "threshold": e.threshold,
        "requalify_at": e.requalify_at,
    }
    return Upsert(TIERS, ("event_id",), values)


def _request(e: Event) -> dict[str, Any] | None:
    """The decided request's row, or None for any other event."""
    if isinstance(e, lo.PointsSpent):
        return _decided(e, "redemption", e.ref, "spent", points=e.points, available_after=e.available_after,
                        reward_id=e.reward_id)  # fmt: skip
    if isinstance(e, lo.PointsRedemptionRefused):
        return _decided(e, "redemption", e.ref, "refused", code=e.code, points=e.needed,
                        available_after=e.available, reward_id=e.reward_id)  # fmt: skip
    if isinstance(e, lo.PointsAdjusted):
        return _decided(e, "adjustment", e.external_id, "adjusted", points=e.points)
    if isinstance(e, lo.PointsAdjustmentRepeated):
        return _decided(e, "adjustment", e.external_id, "repeated", points=e.points)
    if isinstance(e, lo.PointsAdjustmentRefused):
        return _decided(e, "adjustment", e.external_id, "refused", code=e.code, points=e.points,
                        available_after=e.available)  # fmt: skip
    return None


def _decided(
    e: lo.PointsSpent
    | lo.PointsRedemptionRefused
    | lo.PointsAdjusted
    | lo.PointsAdjustmentRepeated
    | lo.PointsAdjustmentRefused,
    kind: str,
    ref: str,
    status: str,
    **values: Any,
) -> dict[str, Any]:
    return {
        "request_event_id": e.request_event_id,
        "patient_id": e.patient_id,
        "kind": kind,
        "ref": ref,
        "reward_id": None,
        "status": status,
        "code": None,
        "points": None,
        "available_after": None,
        **values,
        "reason": e.reason,
        "decided_at": e.occurred_at,
        "decision_event_id": e.event_id,
    }


PROJECTION = Projection(
    name="loyalty_ledger",
    tables=(ENTRIES, TIERS, REQUESTS),
    changes=changes,
    reads=(
        lo._LedgerEvent,
        lo.TierChanged,
        lo.TierKept,
        lo.PointsSpent,
        lo.PointsRedemptionRefused,
        lo.PointsAdjusted,
        lo.PointsAdjustmentRepeated,
        lo.PointsAdjustmentRefused,
    ),
    package=__package__ or __name__,
)
