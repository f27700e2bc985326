"""A loyalty desk on in-memory ports, with a stand-in for the worker and the projections: each published request is
decided the way the journey core decides it (oldest points first is the core's business: here only the balance
counts) and its row written to ``loyalty_requests``, unless the world is ``silent`` (the worker is behind)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from engine.journeys.durations import Duration
from engine.journeys.loyalty_definition import Level, LoyaltyProgramme, Requalify, Reward, Tiers
from engine.loyalty_desk.memory import FixedClock, InMemoryPublisher, InMemoryReadModels, InMemoryTrail
from engine.loyalty_desk.ports import Caller, Decision, Entry, Member
from engine.loyalty_desk.referrals import Referral
from engine.loyalty_desk.service import Desk, Waiting
from events.base import Event
from events.loyalty import PointsAdjustmentRequested, PointsRedemptionRequested
from events.referrals import ReferralSubmitted, referral_id

SHANGHAI = ZoneInfo("Asia/Shanghai")
LI_FANG, WANG_WEI = "pt-3f9c2a71b04e8d56c1a0", "pt-58be0d4417c29a6f3e11"
LI_FANGS_CODE, WANG_WEIS_CODE = "3XJG-MR9W-HNBM", "ZVHF-K2XX-60F4"  # events.referral_codes.referral_code of each
NOW = datetime(2027, 2, 5, 15, 12, tzinfo=SHANGHAI)
NURSE = Caller(client="careloop-desk", by="desk_zhang", purpose="operations")

PROGRAMME = LoyaltyProgramme(
    version=1,
    tiers=Tiers(
        period=Duration.parse("12mo"),
        requalify=Requalify(every=Duration.parse("1y")),
        levels=[
            Level(id="regular", name={"zh-CN": "普通", "en": "Regular"}),
            Level(
                id="silver",
                name={"zh-CN": "银卡", "en": "Silver"},
                entry=300,
                keep=200,
                privileges=["priority-booking"],
            ),
        ],
    ),
    rewards=[
        Reward(id="parking-voucher", name={"zh-CN": "停车券"}, kind="gift", points=150),
        Reward(id="registration-fee-offset", kind="fee_offset", points=500, value_fen=5000, requires_tier="silver"),
    ],
)


def member(patient_id: str = LI_FANG, *, available: int = 300, pending: int = 0) -> Member:
    return Member(
        patient_id=patient_id,
        programme_version=1,
        enrolled_at=datetime(2026, 1, 15, 10, 0, tzinfo=SHANGHAI),
        tier="silver",
        tier_since=datetime(2026, 4, 13, 10, 0, tzinfo=SHANGHAI),
        requalify_at=datetime(2027, 4, 13, 0, 0, tzinfo=SHANGHAI),
        available=available,
        pending=pending,
        next_expiry_at=datetime(2027, 2, 1, 0, 0, tzinfo=SHANGHAI) + timedelta(days=365),
        next_expiry_points=100,
        badges=("health-guardian",),
        zone="Asia/Shanghai",
    )


def earned(points: int, at: datetime, batch: str, n: int = 0) -> Entry:
    return Entry(
        f"ev-{batch}",
        n,
        at,
        "earned",
        batch,
        points,
        True,
        True,
        "follow-up-visit",
        None,
        f"follow-up-visit (encounter.completed): {batch}",
    )


@dataclass
class World:
    models: InMemoryReadModels = field(default_factory=InMemoryReadModels)
    trail: InMemoryTrail = field(default_factory=InMemoryTrail)
    publisher: InMemoryPublisher = field(default_factory=InMemoryPublisher)
    silent: bool = False  # the worker is behind: nothing is decided
    slept: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    def __post_init__(self) -> None:
        self.publisher.then = self.decide

    def desk(self, programme: LoyaltyProgramme | None = PROGRAMME) -> Desk:
        return Desk(
            self.models,
            self.models,
            self.trail,
            self.publisher,
            FixedClock(NOW),
            programme,
            Waiting(0.2, self.sleep, lambda: self.elapsed),
        )

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.elapsed += seconds

    def decide(self, event: Event) -> None:
        if self.silent:
            return
        if isinstance(event, PointsRedemptionRequested):
            self.redeem(event)
        elif isinstance(event, PointsAdjustmentRequested):
            self.adjust(event)
        elif isinstance(event, ReferralSubmitted):
            self.refer(event)

    def refer(self, event: ReferralSubmitted) -> None:
        """The referee's side, then the referrer's answer: a code no member has, or one's own, is refused."""
        rid = referral_id(event.patient_id, event.code)
        if event.referrer_patient_id is None:
            row = Referral(rid, "refused", "unknown_code", "no member has this referral code", NOW)
        elif event.referrer_patient_id == event.patient_id:
            row = Referral(rid, "refused", "self_referral", "the code is the member's own", NOW)
        else:
            row = Referral(rid, "accepted", None, "the referrer's side accepted the claim", NOW)
        self.models.put_referral(row)

    def redeem(self, event: PointsRedemptionRequested) -> None:
        m = self.models.members[event.patient_id]
        cost = next(r.points for r in PROGRAMME.rewards if r.id == event.reward_id) * event.quantity
        common = {
            "request_event_id": event.event_id,
            "patient_id": event.patient_id,
            "kind": "redemption",
            "ref": event.ref,
            "reward_id": event.reward_id,
            "decided_at": NOW,
        }
        if cost > m.available:
            words = f"insufficient balance: {event.reward_id} needs {cost} points, {m.available} available, "
            words += f"{m.pending} pending; 100 expired on 2027-02-01 00:00 +08:00 (b1)"
            self.models.decide(
                Decision(
                    **common, status="refused", code="points_expired", points=cost, available_after=None, reason=words
                )
            )
            return
        self.models.put_member(replace(m, available=m.available - cost))
        words = f"spent {cost} points on {event.reward_id} ×{event.quantity} (b2 {cost})"
        left = m.available - cost
        self.models.decide(
            Decision(**common, status="spent", code=None, points=cost, available_after=left, reason=words)
        )

    def adjust(self, event: PointsAdjustmentRequested) -> None:
        applied = self.models.applied_adjustment(event.patient_id, event.external_id)
        status = "repeated" if applied is not None else "adjusted"
        self.models.decide(
            Decision(
                event.event_id,
                event.patient_id,
                "adjustment",
                event.external_id,
                None,
                status,
                None,
                event.points,
                None,
                f"adjusted {event.points:+d} ({event.reason_code}): b7",
                NOW,
            )
        )
