"""A redemption or an adjustment checked and made into its input event, before anything is published. Pure.

The event id is what docs/events.md says for the two inputs: ``source = {system: client, message_id: ref}`` through
``Event.create`` (a UUIDv5 of client, ref and type), so a repeat of the same request is the same event, which the
worker applies once, and the desk finds its decision by that id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from engine.journeys.loyalty_definition import LoyaltyProgramme, Reward
from engine.loyalty_desk.errors import InvalidRequestError, NoProgrammeError, UnknownRewardError
from engine.yamlfile.suggest import closest
from events.base import Source
from events.loyalty import PointsAdjustmentRequested, PointsRedemptionRequested

REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")  # as the erasure's: an id, never words about the patient
REF_PROBLEM = "a request's id (letters, digits and . _ : / -, at most 64), not words"
REASONS = ("goodwill", "correction", "migration")
MAX_POINTS = 1_000_000  # a typo's extra zeros are refused, not credited
AdjustmentReason = Literal["goodwill", "correction", "migration"]


@dataclass(frozen=True, slots=True)
class Asked:
    """Who asks and when: ``client`` the events' source system, ``by`` a pseudonymous staff or client id."""

    client: str
    by: str
    now: datetime


def reward_of(programme: LoyaltyProgramme | None, reward_id: str) -> Reward:
    """The reward of the loaded file, or UnknownRewardError with did-you-mean (the core checks it again)."""
    if programme is None:
        raise NoProgrammeError("the journeys file has no loyalty: section, so there is no reward to redeem")
    for reward in programme.rewards:
        if reward.id == reward_id:
            return reward
    known = [r.id for r in programme.rewards]
    raise UnknownRewardError(reward_id, closest(reward_id, known), known)


def checked_ref(ref: object) -> str:
    if not isinstance(ref, str) or not REF.fullmatch(ref):
        raise InvalidRequestError("ref", f"not a reference: {REF_PROBLEM}")
    return ref


def redemption(
    programme: LoyaltyProgramme | None, patient_id: str, reward_id: str, quantity: int, ref: str, asked: Asked
) -> PointsRedemptionRequested:
    reward = reward_of(programme, reward_id)
    if quantity < 1:
        raise InvalidRequestError("quantity", f"quantity must be 1 or more, not {quantity}")
    return cast(
        PointsRedemptionRequested,
        PointsRedemptionRequested.create(
            source=Source(system=asked.client, message_id=checked_ref(ref)),
            patient_id=patient_id,
            occurred_at=asked.now,
            recorded_at=asked.now,
            reward_id=reward.id,
            quantity=quantity,
            ref=ref,
            by=asked.by,
        ),
    )


def adjustment(
    patient_id: str, points: int, ref: str, reason: str, qualifying: bool, asked: Asked
) -> PointsAdjustmentRequested:
    if points == 0 or abs(points) > MAX_POINTS:
        raise InvalidRequestError("points", f"points must be a signed number of points, not 0, at most {MAX_POINTS}")
    if reason not in REASONS:
        raise InvalidRequestError("reason", f"reason {reason!r} is not one of {', '.join(REASONS)}")
    if qualifying and points < 0:
        raise InvalidRequestError("qualifying", "only a credit (positive points) can count towards tiers")
    return cast(
        PointsAdjustmentRequested,
        PointsAdjustmentRequested.create(
            source=Source(system=asked.client, message_id=checked_ref(ref)),
            patient_id=patient_id,
            occurred_at=asked.now,
            recorded_at=asked.now,
            external_id=ref,
            points=points,
            qualifying=qualifying,
            reason_code=cast(AdjustmentReason, reason),
            by=asked.by,
        ),
    )
