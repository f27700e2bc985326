"""A referral code given after registration, at the desk or through the API: read in any of the ways people write it,
resolved to the member it belongs to, submitted once as referral.submitted, and answered with the referee side's
decision once the referrer's side answered (or pending)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from engine.loyalty_desk.errors import InvalidRequestError, NotMemberError
from engine.processes import loyalty as root
from engine.processes.loyalty import OpenDesk
from events.ids import deterministic_id
from events.referrals import ReferralSubmitted, referral_id
from tests.cli import invoke
from tests.unit.loyalty_desk.desk_world import (
    LI_FANG,
    LI_FANGS_CODE,
    NURSE,
    SHANGHAI,
    WANG_WEI,
    WANG_WEIS_CODE,
    World,
    member,
)


@pytest.fixture
def world() -> World:
    w = World()
    w.models.put_member(member(LI_FANG))
    w.models.put_member(member(WANG_WEI))
    w.models.codes[LI_FANGS_CODE] = LI_FANG
    return w


def test_a_code_written_loosely_is_read_resolved_to_its_member_and_submitted_once(world: World) -> None:
    # Wang Wei gives Li Fang's code as he copied it: lower case, spaces for the hyphens
    outcome = world.desk().refer(WANG_WEI, "3xjg mr9w hnbm", NURSE, wait=10)

    [sent] = world.publisher.published
    assert isinstance(sent, ReferralSubmitted)
    assert (sent.patient_id, sent.code, sent.referrer_patient_id) == (WANG_WEI, LI_FANGS_CODE, LI_FANG)
    assert sent.event_id == deterministic_id("careloop-desk", LI_FANGS_CODE, "referral.submitted", WANG_WEI)
    assert outcome.status == "accepted" and outcome.referral_id == referral_id(WANG_WEI, LI_FANGS_CODE)
    assert [(r.patient_id, r.action) for r in world.trail.rows] == [(WANG_WEI, "loyalty.referral")]


def test_a_code_no_member_has_is_submitted_without_a_referrer_and_refused_by_the_core(world: World) -> None:
    outcome = world.desk().refer(LI_FANG, WANG_WEIS_CODE, NURSE, wait=10)

    assert world.publisher.published[0].model_dump()["referrer_patient_id"] is None
    assert outcome.status == "refused" and outcome.referral is not None
    assert outcome.referral.refused_code == "unknown_code"


@pytest.mark.parametrize("code", ["3XJG-MR9W-HNB", "3XJG-MR9W-HNBU", "李芳的码"])
def test_what_is_not_a_referral_code_is_refused_naming_the_field(world: World, code: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        world.desk().refer(WANG_WEI, code, NURSE, wait=10)
    assert refused.value.field == "code" and world.publisher.published == []


def test_a_patient_who_is_not_a_member_gives_no_code(world: World) -> None:
    with pytest.raises(NotMemberError):
        world.desk().refer("pt-000000000000000000ff", LI_FANGS_CODE, NURSE, wait=10)
    assert world.publisher.published == []


def test_a_claim_the_referrers_side_has_not_answered_is_pending_and_a_decided_one_is_not_sent_again(
    world: World,
) -> None:
    world.silent = True
    pending = world.desk().refer(WANG_WEI, LI_FANGS_CODE, NURSE, wait=3)
    world.silent = False
    world.decide(world.publisher.published[0])

    again = world.desk().refer(WANG_WEI, LI_FANGS_CODE, NURSE, wait=3)

    assert pending.status == "pending" and again.status == "accepted" and again.earlier
    assert len(world.publisher.published) == 1


@contextmanager
def desk_for(world: World) -> Iterator[None]:
    @contextmanager
    def opened(settings: Any) -> Iterator[OpenDesk]:
        yield OpenDesk(world.desk(), "desk_zhang", SHANGHAI, Path("journeys.yaml"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(root, "open_desk", opened)
        yield


def test_the_command_exits_0_accepted_1_refused_3_pending(world: World) -> None:
    with desk_for(world):
        accepted = invoke("loyalty", "refer", WANG_WEI, LI_FANGS_CODE)
        refused = invoke("loyalty", "refer", LI_FANG, LI_FANGS_CODE)
        world.silent = True
        pending = invoke("loyalty", "refer", LI_FANG, WANG_WEIS_CODE, "--wait", "1s", "--format", "json")

    assert accepted[0] == 0 and accepted[1].strip() == "accepted: the referrer's side accepted the claim"
    assert refused[0] == 1 and refused[1].strip() == "refused (self_referral): the code is the member's own"
    assert pending[0] == 3 and json.loads(pending[1])["status"] == "pending"
