"""Loyalty (issue 17): what the engine decides about a member's points, tiers and badges, and the two staff inputs
that ask it to (a redemption, a manual adjustment).

Every engine event says why in ``reason``. Those that change the points ledger carry the ledger entries the
decision produced (``entries``), so replay appends them and never re-runs the allocation: changing the spending
order later cannot rewrite history. ``LedgerEntry`` mirrors ``engine.loyalty.Entry`` field for field."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from events.base import Event, Frozen

EntryKindName = Literal[
    "earned",
    "pending-earned",
    "became-available",
    "spent",
    "expired",
    "reversed",
    "pending-reversed",
    "adjusted",
    "debt-repaid",
]
RefusalCode = Literal[
    "unknown_reward",
    "insufficient_balance",
    "points_expired",
    "points_pending",
    "requires_tier",
    "requires_badge",
    "limit_reached",
    "not_member",
    "already_decided",
]


class LedgerEntry(Frozen):
    """One ledger entry as recorded (``engine.loyalty.Entry`` field for field): ``amount`` is signed;
    ``redeemable``/``qualifying`` say which balances it touches; ``batch_id`` is None for points owed beyond the
    batches (a debt)."""

    # the ledger's reasons are kept exactly as the ledger wrote them (no whitespace stripping): replay compares them
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    id: str = Field(min_length=1)
    kind: EntryKindName
    cause_id: str
    amount: int
    at: AwareDatetime
    reason: str
    redeemable: bool
    qualifying: bool
    batch_id: str | None = None
    # set only on an entry that opens a batch (an earning, a positive adjustment): the entries alone rebuild it
    expires_at: AwareDatetime | None = None
    available_at: AwareDatetime | None = None


class Allocation(Frozen):
    """Points taken from one batch; ``batch_id`` None is points owed (allowed only with ``allow_negative``)."""

    batch_id: str | None
    points: int = Field(ge=0)


class _LoyaltyEvent(Event):
    reason: str = Field(default="", description="Why this happened, in words staff can read.")


class _LedgerEvent(_LoyaltyEvent):
    entries: tuple[LedgerEntry, ...] = Field(default=(), description="The ledger entries this decision appended.")


# --- inputs (clinical topic, published by staff tools; keyed by patient) ---------------------------------------


class PointsRedemptionRequested(Event):
    """Staff (or the member through an authenticated API) ask to spend points on a reward."""

    type: Literal["points.redemption_requested"] = "points.redemption_requested"
    reward_id: str = Field(min_length=1)
    quantity: int = Field(default=1, ge=1)
    ref: str = Field(min_length=1, description="The caller's id of the request (its repeats are the same request).")
    by: str = Field(min_length=1, description="A pseudonymous staff or client id.")


class PointsAdjustmentRequested(Event):
    """A manual adjustment with the caller's external id: the same id applied twice changes nothing."""

    type: Literal["points.adjustment_requested"] = "points.adjustment_requested"
    external_id: str = Field(min_length=1)
    points: int = Field(description="Signed: positive credits a new batch, negative takes points away.")
    qualifying: bool = Field(default=False, description="Whether the points also count towards tiers.")
    expires: Literal["rule", "never"] = Field(default="rule", description="A credit expires by the programme's rule.")
    reason_code: Literal["goodwill", "correction", "migration"]
    by: str = Field(min_length=1)


# --- engine events ---------------------------------------------------------------------------------------------


class LoyaltyEnrolled(_LoyaltyEvent):
    type: Literal["loyalty.enrolled"] = "loyalty.enrolled"
    programme_version: int = Field(ge=1)
    tier: str = Field(min_length=1, description="The base level.")
    referral_code: str | None = None


class PointsEarned(_LedgerEvent):
    """A rule gave points for a cause; the expiry was computed once, in ``expiry_zone``, and is never recomputed."""

    type: Literal["points.earned"] = "points.earned"
    batch_id: str = Field(min_length=1)
    rule_id: str = Field(min_length=1)
    points: int = Field(ge=0)
    qualifying: int = Field(ge=0)
    cause_event_id: str = Field(min_length=1)
    cause_type: str = Field(min_length=1)
    cause_key: str | None = Field(default=None, description="The rule's key field's value, for reversal.")
    earned_at: AwareDatetime
    available_at: AwareDatetime = Field(description="When the points become spendable (earned_at unless pending).")
    expires_at: AwareDatetime | None = Field(description="Null: the points never expire.")
    expiry_zone: str | None = None
    programme_version: int = Field(ge=1)


class PointsReleased(_LedgerEvent):
    type: Literal["points.released"] = "points.released"
    batch_id: str = Field(min_length=1)
    points: int = Field(ge=0)
    at: AwareDatetime = Field(description="The batch's available_at.")


class PointsExpired(_LedgerEvent):
    type: Literal["points.expired"] = "points.expired"
    batch_id: str = Field(min_length=1)
    points: int = Field(ge=0)
    at: AwareDatetime = Field(description="The batch's expires_at.")


class PointsExpiring(_LoyaltyEvent):
    type: Literal["points.expiring"] = "points.expiring"
    expires_at: AwareDatetime
    points: int = Field(ge=0, description="The points of every batch expiring then.")
    batch_ids: tuple[str, ...]
    warn_before: str = Field(min_length=1, description="The programme's warning delay as written, e.g. 30d.")


class PointsSpent(_LedgerEvent):
    type: Literal["points.spent"] = "points.spent"
    request_event_id: str = Field(min_length=1)
    ref: str = Field(min_length=1)
    reward_id: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    points: int = Field(ge=0)
    allocations: tuple[Allocation, ...]
    available_after: int


class PointsRedemptionRefused(_LoyaltyEvent):
    type: Literal["points.redemption_refused"] = "points.redemption_refused"
    request_event_id: str = Field(min_length=1)
    ref: str = Field(min_length=1)
    reward_id: str = Field(min_length=1)
    code: RefusalCode
    needed: int | None = None
    available: int | None = None
    pending: int | None = None
    expired_recently: int | None = Field(default=None, description="Points expired in the last 30 days.")


class _Adjustment(_LoyaltyEvent):
    request_event_id: str = Field(min_length=1)
    external_id: str = Field(min_length=1)
    points: int
    qualifying: int = Field(ge=0)
    reason_code: Literal["goodwill", "correction", "migration"]
    by: str = Field(min_length=1)


class PointsAdjusted(_Adjustment, _LedgerEvent):
    type: Literal["points.adjusted"] = "points.adjusted"
    batch_id: str | None = Field(default=None, description="The new batch of a credit.")
    expires_at: AwareDatetime | None = None
    allocations: tuple[Allocation, ...] = Field(default=(), description="Where a debit took its points from.")


class PointsAdjustmentRepeated(_Adjustment):
    type: Literal["points.adjustment_repeated"] = "points.adjustment_repeated"
    applied_event_id: str = Field(min_length=1, description="The request that applied this external id.")


class PointsAdjustmentRefused(_Adjustment):
    type: Literal["points.adjustment_refused"] = "points.adjustment_refused"
    code: Literal["conflicting_repeat", "insufficient_balance", "not_member"]
    available: int | None = None


class _Reversal(_LedgerEvent):
    batch_id: str = Field(min_length=1)
    rule_id: str = Field(min_length=1)
    cause_key: str = Field(min_length=1)
    cause_event_id: str = Field(min_length=1, description="The cancelling event.")


class PointsReversed(_Reversal):
    type: Literal["points.reversed"] = "points.reversed"
    points_taken: int = Field(ge=0)
    allocations: tuple[Allocation, ...]
    qualifying_removed: int = Field(ge=0)
    unrecovered: int = Field(default=0, ge=0, description="Spent points not taken back (no negative balance).")


class PointsReversalSkipped(_Reversal):
    type: Literal["points.reversal_skipped"] = "points.reversal_skipped"
    code: Literal["too_late", "already_reversed"]


class _TierEvent(_LoyaltyEvent):
    qualifying: int
    threshold: int | None = Field(description="The entry or keep threshold compared; null when none applied.")
    period_start: AwareDatetime
    period_end: AwareDatetime
    programme_version: int = Field(ge=1)


class TierChanged(_TierEvent):
    type: Literal["tier.changed"] = "tier.changed"
    from_tier: str = Field(min_length=1)
    to_tier: str = Field(min_length=1)
    direction: Literal["up", "down"]
    cause: Literal["qualified", "not_requalified", "redeemed"]
    requalify_at: AwareDatetime | None = Field(description="Null on the base level.")


class TierKept(_TierEvent):
    type: Literal["tier.kept"] = "tier.kept"
    tier: str = Field(min_length=1)
    requalify_at: AwareDatetime = Field(description="The next requalification.")


class TierAtRisk(_TierEvent):
    type: Literal["tier.at_risk"] = "tier.at_risk"
    tier: str = Field(min_length=1)
    short_by: int = Field(gt=0)
    requalify_at: AwareDatetime
    warn_before: str = Field(min_length=1)


class BadgeAwarded(_LedgerEvent):
    type: Literal["badge.awarded"] = "badge.awarded"
    badge_id: str = Field(min_length=1)
    evidence: tuple[str, ...] = Field(description="The event ids that met the badge's condition.")
    points: int = Field(default=0, ge=0)
    batch_id: str | None = None


class BadgeProgressed(_LoyaltyEvent):
    """A match of a badge counted over several events (``times`` above 1) that does not award it yet: the fold reads
    no catalog, so the decision records the matches still counted (those within ``within`` of the newest)."""

    type: Literal["badge.progressed"] = "badge.progressed"
    badge_id: str = Field(min_length=1)
    evidence: tuple[str, ...] = Field(description="The matching event ids counted, oldest first (at most times - 1).")
    matched_at: tuple[AwareDatetime, ...] = Field(description="When each of them happened (their clinical time).")
    count: int = Field(ge=1, description="How many matches are counted now.")
    times: int = Field(ge=2, description="How many the badge needs.")

    @model_validator(mode="after")
    def _evidence_fits(self) -> BadgeProgressed:
        if len(self.matched_at) != len(self.evidence) or self.count != len(self.evidence) or self.count >= self.times:
            raise ValueError("evidence, matched_at and count must agree, and count stay below times")
        return self
