"""A member as the engine records them (an enrolment on silver, 100 points earned for a follow-up visit) and the
spending the worker would decide for a redemption, as engine events for the read models (tables.project)."""

from __future__ import annotations

from events import loyalty as lo
from events.base import Event, Source
from tests.contracts.loyalty_desk import LI_FANG, at

ENGINE = Source(system="careloop-engine", message_id="test")
ENROLLED_AT, EARNED_AT = at("2026-01-15 10:00"), at("2026-01-15 10:05")


def enrolled() -> lo.LoyaltyEnrolled:
    return lo.LoyaltyEnrolled.create(
        source=ENGINE, discriminator="enrolled", patient_id=LI_FANG, occurred_at=ENROLLED_AT,
        recorded_at=ENROLLED_AT, programme_version=1, tier="silver", reason="enrolled automatically",
    )  # fmt: skip


def earned() -> lo.PointsEarned:
    expires = at("2027-02-01 00:00")
    entry = lo.LedgerEntry(id="e1", kind="earned", cause_id="ev-visit", amount=100, at=EARNED_AT,
                           reason="follow-up-visit (encounter.completed)", redeemable=True, qualifying=True,
                           batch_id="b1", expires_at=expires, available_at=EARNED_AT)  # fmt: skip
    return lo.PointsEarned.create(
        source=ENGINE, discriminator="earned", patient_id=LI_FANG, occurred_at=EARNED_AT, recorded_at=EARNED_AT,
        batch_id="b1", rule_id="follow-up-visit", points=100, qualifying=100, cause_event_id="ev-visit",
        cause_type="encounter.completed", earned_at=EARNED_AT, available_at=EARNED_AT, expires_at=expires,
        expiry_zone="Asia/Shanghai", programme_version=1, entries=(entry,), reason="follow-up-visit",
    )  # fmt: skip


def spent(request: Event) -> lo.PointsSpent:
    now = at("2027-02-05 15:12")
    entry = lo.LedgerEntry(
        id="e2", kind="spent", cause_id=f"redemption:{request.event_id}", amount=-100, at=now,
        reason="redeemed parking-voucher", redeemable=True, qualifying=False, batch_id="b1",
    )  # fmt: skip
    return lo.PointsSpent.create(
        source=ENGINE, discriminator=request.event_id, patient_id=LI_FANG, occurred_at=now, recorded_at=now,
        request_event_id=request.event_id, ref="APP-77", reward_id="parking-voucher", quantity=1, points=100,
        allocations=(lo.Allocation(batch_id="b1", points=100),), available_after=0, entries=(entry,),
        reason="spent 100 points on parking-voucher ×1 (b1 100)",
    )  # fmt: skip
