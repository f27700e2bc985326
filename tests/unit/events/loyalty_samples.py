"""A payload of every loyalty event type (beyond the envelope), as the core would record them for a member of the
shipped programme: a follow-up visit earned 100 points pending 3 days, spent on a parking voucher, reversed."""

from __future__ import annotations

from typing import Any

EARNED_AT = "2026-01-15T10:00:00+08:00"
AVAILABLE_AT = "2026-01-18T10:00:00+08:00"
EXPIRES_AT = "2027-02-01T00:00:00+08:00"
PERIOD = {"period_start": "2025-04-13T10:00:00+08:00", "period_end": "2026-04-13T10:00:00+08:00"}


def entry(n: int, kind: str, amount: int, *, batch_id: str | None = "b1", **fields: Any) -> dict[str, Any]:
    return {
        "id": f"e{n}",
        "kind": kind,
        "cause_id": "ev-visit-1",
        "amount": amount,
        "at": EARNED_AT,
        "reason": "follow-up-visit: encounter.completed",
        "redeemable": True,
        "qualifying": True,
        "batch_id": batch_id,
        **fields,
    }


LOYALTY_PAYLOADS: dict[str, dict[str, Any]] = {
    "points.redemption_requested": {"reward_id": "parking-voucher", "quantity": 1, "ref": "R-0815", "by": "desk-7"},
    "points.adjustment_requested": {
        "external_id": "ADJ-17",
        "points": 200,
        "qualifying": False,
        "expires": "rule",
        "reason_code": "goodwill",
        "by": "desk-7",
    },
    "loyalty.enrolled": {"programme_version": 1, "tier": "regular", "reason": "enrol: automatic"},
    "points.earned": {
        "batch_id": "b1",
        "rule_id": "follow-up-visit",
        "points": 100,
        "qualifying": 100,
        "cause_event_id": "ev-visit-1",
        "cause_type": "encounter.completed",
        "cause_key": "E1",
        "earned_at": EARNED_AT,
        "available_at": AVAILABLE_AT,
        "expires_at": EXPIRES_AT,
        "expiry_zone": "Asia/Shanghai",
        "programme_version": 1,
        "entries": [entry(1, "pending-earned", 100)],
    },
    "points.released": {
        "batch_id": "b1",
        "points": 100,
        "at": AVAILABLE_AT,
        "entries": [entry(2, "became-available", 100, at=AVAILABLE_AT)],
    },
    "points.expired": {
        "batch_id": "b1",
        "points": 100,
        "at": EXPIRES_AT,
        "entries": [entry(3, "expired", -100, at=EXPIRES_AT, qualifying=False)],
    },
    "points.expiring": {"expires_at": EXPIRES_AT, "points": 100, "batch_ids": ["b1"], "warn_before": "30d"},
    "points.spent": {
        "request_event_id": "ev-req-1",
        "ref": "R-0815",
        "reward_id": "parking-voucher",
        "quantity": 1,
        "points": 150,
        "allocations": [{"batch_id": "b2", "points": 100}, {"batch_id": "b3", "points": 50}],
        "available_after": 50,
        "entries": [
            entry(7, "spent", -100, batch_id="b2", cause_id="ev-req-1", qualifying=False),
            entry(8, "spent", -50, batch_id="b3", cause_id="ev-req-1", qualifying=False),
        ],
    },
    "points.redemption_refused": {
        "request_event_id": "ev-req-2",
        "ref": "R-0816",
        "reward_id": "parking-voucher",
        "code": "points_expired",
        "needed": 150,
        "available": 50,
        "pending": 0,
        "expired_recently": 100,
    },
    "points.adjusted": {
        "request_event_id": "ev-adj-1",
        "external_id": "ADJ-17",
        "points": 200,
        "qualifying": 0,
        "reason_code": "goodwill",
        "by": "desk-7",
        "batch_id": "b7",
        "expires_at": "2027-09-01T00:00:00+08:00",
        "entries": [entry(9, "adjusted", 200, batch_id="b7", cause_id="ev-adj-1", qualifying=False)],
    },
    "points.adjustment_repeated": {
        "request_event_id": "ev-adj-2",
        "external_id": "ADJ-17",
        "points": 200,
        "qualifying": 0,
        "reason_code": "goodwill",
        "by": "desk-8",
        "applied_event_id": "ev-adj-1",
    },
    "points.adjustment_refused": {
        "request_event_id": "ev-adj-3",
        "external_id": "ADJ-17",
        "points": 300,
        "qualifying": 0,
        "reason_code": "goodwill",
        "by": "desk-8",
        "code": "conflicting_repeat",
    },
    "points.reversed": {
        "batch_id": "b4",
        "rule_id": "follow-up-visit",
        "cause_key": "E4",
        "cause_event_id": "ev-cancel-4",
        "points_taken": 100,
        "allocations": [{"batch_id": "b4", "points": 100}],
        "qualifying_removed": 100,
        "unrecovered": 0,
        "entries": [entry(10, "reversed", -100, batch_id="b4", cause_id="ev-cancel-4")],
    },
    "points.reversal_skipped": {
        "batch_id": "b1",
        "rule_id": "follow-up-visit",
        "cause_key": "E1",
        "cause_event_id": "ev-cancel-1",
        "code": "too_late",
    },
    "tier.changed": {
        "from_tier": "regular",
        "to_tier": "silver",
        "direction": "up",
        "cause": "qualified",
        "qualifying": 300,
        "threshold": 300,
        **PERIOD,
        "requalify_at": "2027-04-14T00:00:00+08:00",
        "programme_version": 1,
    },
    "tier.kept": {
        "tier": "silver",
        "qualifying": 300,
        "threshold": 200,
        **PERIOD,
        "requalify_at": "2028-04-14T00:00:00+08:00",
        "programme_version": 1,
    },
    "tier.at_risk": {
        "tier": "silver",
        "qualifying": 100,
        "threshold": 200,
        "short_by": 100,
        **PERIOD,
        "requalify_at": "2027-04-14T00:00:00+08:00",
        "warn_before": "30d",
        "programme_version": 1,
    },
    "badge.awarded": {
        "badge_id": "health-guardian",
        "evidence": ["ev-journey-done-1"],
        "points": 50,
        "batch_id": "b5",
        "entries": [entry(11, "earned", 50, batch_id="b5", cause_id="ev-journey-done-1")],
    },
    "badge.progressed": {
        "badge_id": "steady-visitor",
        "evidence": ["ev-visit-1", "ev-visit-2"],
        "matched_at": ["2026-01-15T10:00:00+08:00", "2026-03-02T10:00:00+08:00"],
        "count": 2,
        "times": 5,
        "reason": "badge steady-visitor: 2 of 5 within 12mo",
    },
}
