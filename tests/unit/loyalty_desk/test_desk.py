"""The desk on in-memory ports: a redemption or adjustment is checked against the journeys file, recorded in the
audit trail, published once as its input and answered with the core's decision; a repeat is answered from the
earlier decision; a request nobody decides in time is pending; every read is audited before it is answered."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.loyalty_desk.errors import (
    InvalidRequestError,
    NoProgrammeError,
    NotMemberError,
    RefInUseError,
    TrailError,
    UnknownRewardError,
)
from engine.loyalty_desk.memory import Read
from engine.loyalty_desk.ports import Caller, Decision
from events.ids import deterministic_id
from events.loyalty import PointsAdjustmentRequested, PointsRedemptionRequested
from tests.unit.loyalty_desk.desk_world import LI_FANG, NOW, NURSE, SHANGHAI, WANG_WEI, World, earned, member


@pytest.fixture
def world() -> World:
    w = World()
    w.models.put_member(member(available=300))
    return w


def test_a_redemption_is_published_once_as_the_documented_input_and_answered_with_the_cores_decision(
    world: World,
) -> None:
    # When the desk redeems a parking voucher for Li Fang
    outcome = world.desk().redeem(LI_FANG, "parking-voucher", 1, "R-0815", NURSE, wait=10)

    # Then one input went out, its id derived from the desk, the ref and the type (docs/events.md), asked by the nurse
    [sent] = world.publisher.published
    assert isinstance(sent, PointsRedemptionRequested)
    assert sent.event_id == deterministic_id("careloop-desk", "R-0815", "points.redemption_requested", "")
    assert (sent.patient_id, sent.reward_id, sent.quantity, sent.ref, sent.by) == (
        LI_FANG, "parking-voucher", 1, "R-0815", "desk_zhang"
    )  # fmt: skip
    assert sent.recorded_at == NOW
    # and the answer is the core's decision on it
    assert outcome.status == "spent" and outcome.request_id == sent.event_id and not outcome.earlier
    assert outcome.decision is not None and outcome.decision.available_after == 150
    # and the read was recorded first, naming who asked and never the member's data
    assert world.trail.rows == [Read(LI_FANG, "loyalty.redeem", "operations", "by=desk_zhang; reward=parking-voucher")]


def test_the_same_ref_again_is_answered_from_the_earlier_decision_and_not_published_again(world: World) -> None:
    desk = world.desk()
    first = desk.redeem(LI_FANG, "parking-voucher", 1, "R-0815", NURSE, wait=10)

    again = desk.redeem(LI_FANG, "parking-voucher", 1, "R-0815", NURSE, wait=10)

    assert len(world.publisher.published) == 1
    assert again.status == "spent" and again.earlier and again.decision == first.decision
    assert world.models.members[LI_FANG].available == 150  # spent once


def test_an_unknown_reward_is_refused_with_the_closest_one_and_nothing_is_read_or_published(world: World) -> None:
    with pytest.raises(UnknownRewardError) as refused:
        world.desk().redeem(LI_FANG, "parking-vocher", 1, "R-0815", NURSE, wait=10)

    assert str(refused.value) == "unknown reward 'parking-vocher': did you mean 'parking-voucher'? nothing was sent"
    assert refused.value.field == "reward"
    assert world.publisher.published == [] and world.trail.rows == []


def test_a_reward_far_from_every_name_is_refused_listing_the_rewards(world: World) -> None:
    with pytest.raises(UnknownRewardError, match="the rewards are parking-voucher, registration-fee-offset;"):
        world.desk().redeem(LI_FANG, "massage", 1, "R-0815", NURSE, wait=10)


def test_without_a_loyalty_programme_no_reward_can_be_redeemed(world: World) -> None:
    with pytest.raises(NoProgrammeError, match="no loyalty: section"):
        world.desk(programme=None).redeem(LI_FANG, "parking-voucher", 1, "R-0815", NURSE, wait=10)
    assert world.publisher.published == []


@pytest.mark.parametrize(
    ("ref", "quantity", "field"),
    [("李芳 at the desk", 1, "ref"), ("", 1, "ref"), ("R-0815", 0, "quantity")],
)
def test_a_ref_that_is_no_id_or_a_quantity_below_one_is_refused_naming_the_field(
    world: World, ref: str, quantity: int, field: str
) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        world.desk().redeem(LI_FANG, "parking-voucher", quantity, ref, NURSE, wait=10)
    assert refused.value.field == field and "李芳" not in str(refused.value)
    assert world.publisher.published == []


def test_a_refusal_is_the_cores_reason_naming_available_pending_and_expired_points(world: World) -> None:
    world.models.put_member(member(available=50))

    outcome = world.desk().redeem(LI_FANG, "parking-voucher", 1, "R-0816", NURSE, wait=10)

    assert outcome.status == "refused" and outcome.decision is not None
    assert outcome.decision.code == "points_expired"
    assert outcome.decision.reason.startswith("insufficient balance: parking-voucher needs 150 points, 50 available")


def test_a_request_nobody_decides_is_pending_after_polling_for_the_whole_wait(world: World) -> None:
    world.silent = True

    outcome = world.desk().redeem(LI_FANG, "parking-voucher", 1, "R-0815", NURSE, wait=10)

    assert outcome.status == "pending" and outcome.decision is None
    assert outcome.request_id == world.publisher.published[0].event_id
    assert sum(world.slept) == pytest.approx(10) and max(world.slept) <= 0.2
    # When the worker catches up, the same command answers it from the decision, without publishing again
    world.silent = False
    world.decide(world.publisher.published[0])
    later = world.desk().redeem(LI_FANG, "parking-voucher", 1, "R-0815", NURSE, wait=10)
    assert later.status == "spent" and later.earlier and len(world.publisher.published) == 1


def test_an_adjustment_repeated_with_the_same_ref_is_already_applied_on_the_first_date(world: World) -> None:
    desk = world.desk()
    first = desk.adjust(LI_FANG, 200, "ADJ-17", "goodwill", False, NURSE, wait=10)

    again = desk.adjust(LI_FANG, 200, "ADJ-17", "goodwill", False, NURSE, wait=10)

    [sent] = world.publisher.published
    assert isinstance(sent, PointsAdjustmentRequested)
    assert (sent.external_id, sent.points, sent.reason_code, sent.qualifying) == ("ADJ-17", 200, "goodwill", False)
    assert first.status == "adjusted"
    assert again.status == "already_applied" and again.applied_on == NOW and again.earlier


def test_an_adjustment_another_client_applied_already_is_answered_with_when_it_was(world: World) -> None:
    applied_on = datetime(2026, 6, 2, 9, 30, tzinfo=SHANGHAI)
    world.models.decide(
        Decision(
            "req-his", LI_FANG, "adjustment", "ADJ-17", None, "adjusted", None, 200, 500, "adjusted +200", applied_on
        )
    )

    outcome = world.desk().adjust(LI_FANG, 200, "ADJ-17", "goodwill", False, NURSE, wait=10)

    assert outcome.status == "already_applied" and outcome.applied_on == applied_on and not outcome.earlier


@pytest.mark.parametrize(
    ("points", "reason", "qualifying", "field"),
    [(0, "goodwill", False, "points"), (50, "because", False, "reason"), (-50, "correction", True, "qualifying"),
     (10_000_000, "migration", False, "points")],
)  # fmt: skip
def test_an_adjustment_that_is_not_one_is_refused_naming_the_field(
    world: World, points: int, reason: str, qualifying: bool, field: str
) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        world.desk().adjust(LI_FANG, points, "ADJ-18", reason, qualifying, NURSE, wait=10)
    assert refused.value.field == field and world.publisher.published == []


def test_a_patient_who_is_not_a_member_is_refused_before_anything_is_published(world: World) -> None:
    with pytest.raises(NotMemberError):
        world.desk().redeem(WANG_WEI, "parking-voucher", 1, "R-0815", NURSE, wait=10)
    assert world.publisher.published == []
    assert [r.action for r in world.trail.rows] == ["loyalty.redeem"]  # the look was recorded all the same


def test_a_ref_that_names_a_request_about_another_member_is_refused(world: World) -> None:
    world.models.put_member(member(WANG_WEI))
    world.desk().redeem(WANG_WEI, "parking-voucher", 1, "R-0815", NURSE, wait=10)

    with pytest.raises(RefInUseError, match="another member"):
        world.desk().redeem(LI_FANG, "parking-voucher", 1, "R-0815", NURSE, wait=10)
    assert len(world.publisher.published) == 1


def test_the_balance_names_the_tier_of_the_file_with_its_privileges_and_is_audited_first(world: World) -> None:
    found = world.desk().balance(LI_FANG, NURSE)

    assert found.member.available == 300 and found.tier_names == {"zh-CN": "银卡", "en": "Silver"}
    assert found.privileges == ("priority-booking",) and found.keep == 200
    assert world.trail.rows == [Read(LI_FANG, "loyalty.balance", "operations", "by=desk_zhang")]


def test_the_ledger_from_a_date_on_is_oldest_first(world: World) -> None:
    world.models.add_entry(LI_FANG, earned(100, datetime(2026, 5, 1, 10, tzinfo=SHANGHAI), "b2"))
    world.models.add_entry(LI_FANG, earned(100, datetime(2026, 1, 15, 10, tzinfo=SHANGHAI), "b1"))
    world.models.add_entry(LI_FANG, earned(100, datetime(2026, 8, 1, 10, tzinfo=SHANGHAI), "b3"))

    found = world.desk().ledger(LI_FANG, datetime(2026, 2, 1, tzinfo=SHANGHAI), NURSE)

    assert [e.batch_id for e in found] == ["b2", "b3"]
    assert world.trail.rows == [Read(LI_FANG, "loyalty.ledger", "operations", "by=desk_zhang; since given")]


def test_a_read_the_audit_trail_cannot_record_is_not_answered(world: World) -> None:
    world.trail.refusing = True
    reader = Caller(client="careloop-desk", by="desk_li", purpose="care")

    with pytest.raises(TrailError):
        world.desk().balance(LI_FANG, reader)
    with pytest.raises(TrailError):
        world.desk().redeem(LI_FANG, "parking-voucher", 1, "R-0815", reader, wait=10)
    assert world.publisher.published == []
