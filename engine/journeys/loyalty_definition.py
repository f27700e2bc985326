"""The `loyalty:` section of journeys.yaml as typed models (issue 17): what earns points, when they expire, tiers,
badges, rewards and referrals. The models are the grammar; what they must agree on (levels in order, known event
types and fields, rewards naming real tiers and badges) is checked with positions by engine/language/loyalty_checks.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.journeys.conditions import When
from engine.journeys.durations import Duration, DurationField

# the same shape as journeys' and steps' ids (definition.py imports this module, so it cannot be imported from there)
LOYALTY_ID = r"^[a-z0-9][a-z0-9_-]*$"
Names = dict[str, str]  # text per BCP 47 locale, e.g. {zh-CN: 银卡, en: Silver}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Expiry(_Model):
    """Points expire ``after`` their earning on the local calendar of the patient's zone, rounded up."""

    after: DurationField = Field(description="From earned_at, on the patient's local calendar (12mo, 2y, 90d).")
    round: Literal["minute", "day", "month", "year"] = Field(
        default="minute",
        description="minute: the first whole local minute at or after; day/month/year: the first local 00:00 "
        "starting a day/month/year at or after.",
    )
    warn_before: DurationField | None = Field(default=None, description="Record points.expiring this long before.")


class EarnRule(_Model):
    id: str = Field(pattern=LOYALTY_ID)
    on: str = Field(description="A clinical event type, or journey.completed (a course finished).")
    key: str | None = Field(
        default=None, description="A field of the event naming what earned (encounter_id): one earning per value."
    )
    reversed_by: list[str] = Field(
        default_factory=list, description="Event types carrying the same key that take the points back."
    )
    when: When = Field(default_factory=When, description="All must hold (event.*, patient.*).")
    points: int = Field(ge=0, description="Redeemable points.")
    qualifying: int | None = Field(default=None, ge=0, description="Points towards tiers; default: points.")
    pending: DurationField | None = Field(default=None, description="Spendable (and qualifying) only after this.")
    expiry: Expiry | None = Field(default=None, description="This rule's expiry instead of the programme's.")
    points_per: int | None = Field(
        default=None, gt=0, description="Points per yuan spent: consumption programmes only (not supported yet)."
    )


class Level(_Model):
    id: str = Field(pattern=LOYALTY_ID)
    name: Names = Field(default_factory=dict, description="The level's name per locale.")
    entry: int | None = Field(default=None, ge=1, description="Qualifying points over the period to reach it.")
    keep: int | None = Field(default=None, ge=0, description="Qualifying points over the period to keep it.")
    privileges: list[str] = Field(default_factory=list, description="What members of the level get (journeys branch).")


class Requalify(_Model):
    every: DurationField = Field(description="Requalify this long after reaching the level (1y: the anniversary).")
    on: str | None = Field(
        default=None, pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$", description="A fixed date, MM-DD."
    )
    min_hold: DurationField | None = Field(default=None, description="With on: a level is held at least this long.")


class Tiers(_Model):
    period: DurationField = Field(description="Qualifying points count over this period back from now.")
    requalify: Requalify
    warn_before: DurationField | None = Field(default=None, description="Record tier.at_risk this long before.")
    levels: list[Level] = Field(min_length=1, description="In order: the first is the base (no entry, no keep).")


class Badge(_Model):
    id: str = Field(pattern=LOYALTY_ID)
    name: Names = Field(default_factory=dict)
    on: str = Field(description="A clinical event type, or journey.completed.")
    when: When = Field(default_factory=When)
    times: int = Field(default=1, ge=1, description="Awarded on the times-th matching event (1: the first).")
    within: DurationField | None = Field(
        default=None,
        description="With times above 1: the counted matches all within this, from the first to the last (on the "
        "patient's local calendar).",
    )
    points: int = Field(default=0, ge=0, description="Points earned with the badge.")


class Reward(_Model):
    id: str = Field(pattern=LOYALTY_ID)
    name: Names = Field(default_factory=dict)
    kind: Literal["gift", "fee_offset", "tier_upgrade", "service"]
    points: int = Field(ge=0, description="Points per unit redeemed.")
    value_fen: int | None = Field(default=None, gt=0, description="fee_offset only: the offset, in fen.")
    to_tier: str | None = Field(default=None, description="tier_upgrade only: the level it gives.")
    requires_tier: str | None = Field(default=None, description="Members of this level or higher only.")
    requires_badge: str | None = None
    limit_per_member: int | None = Field(default=None, ge=1)


# The earn rule ids of the referral rewards (engine/journeys/referrals.py); no rule of the file may take them.
REFERRER_RULE, REFEREE_RULE = "referral-referrer", "referral-referee"


class ReferralReward(_Model):
    points: int = Field(ge=0)
    qualifying: int | None = Field(default=None, ge=0)


# The docstring and descriptions are the published schema's (docs/journeys.schema.json): they change with it.
class Referrals(_Model):
    """A member's referral code brings new patients: both sides rewarded by rule (engine/journeys/referrals.py)."""

    max_uses: int = Field(default=1, ge=1, description="Referees one code can bring.")
    claim_within: DurationField = Field(
        default=Duration.parse("30d"),
        json_schema_extra={"default": "30d"},
        description="After the referee enrolled (for a new patient: registered).",
    )
    reward_after: Literal["first_visit", "attribution"] = "first_visit"
    referrer: ReferralReward
    referee: ReferralReward


class LoyaltyProgramme(_Model):
    version: int = Field(ge=1, description="Stamped in the loyalty events; bump it when the section changes.")
    enrol: Literal["automatic", "on_consent"] = Field(
        default="automatic", description="automatic: every patient at their next event (on_consent: not supported yet)."
    )
    allow_negative: bool = Field(default=False, description="Whether a balance may go below zero (a reversal).")
    consumption: bool = Field(default=False, description="Points per amount spent (not supported yet).")
    expiry: Expiry | None = Field(default=None, description="Every rule's expiry unless it has its own; none: never.")
    reversible_for: DurationField = Field(
        default=Duration.parse("180d"),
        json_schema_extra={"default": "180d"},  # as written, not the parsed Duration's fields
        description="How long after earning a cancelling event still takes it back.",
    )
    earn: list[EarnRule] = Field(default_factory=list)
    tiers: Tiers | None = None
    badges: list[Badge] = Field(default_factory=list)
    rewards: list[Reward] = Field(default_factory=list)
    referrals: Referrals | None = None

    def expiry_of(self, rule: EarnRule) -> Expiry | None:
        return rule.expiry or self.expiry
