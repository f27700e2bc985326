"""Referrals across two patients on the Simulation, the hand-overs delivered as the worker delivers them: a newcomer
registered with a member's code is attributed to that member, and both are rewarded at the newcomer's first completed
visit (or at once with ``reward_after: attribution``); a code that is the newcomer's own, unknown, already used up, or
claimed too late, a second claim, or a file without ``loyalty.referrals`` are refused with the reason, on the side that
refused. Each patient's recorded events fold to the state the Simulation holds."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.journeys.catalog import Catalog
from engine.journeys.evolve import replay
from engine.journeys.explain import explain
from engine.journeys.machine import Tick
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.journeys.timeline import timeline
from engine.language.loader import load_catalog
from events import loyalty as lo
from events import patient as pa
from events import referrals as rf
from events.base import Event
from events.referral_codes import referral_code
from tests.builders import at, event, recorded, registered, visit

MEMBER = "pt-0a1b2c3d4e5f60718293"  # the referrer
FRIEND = "pt-9f8e7d6c5b4a39281706"  # the referee
NEIGHBOUR = "pt-5e6f7a8b9c0d1e2f3a4b"  # a second referee
OTHER = "pt-77aa88bb99cc00dd11ee"  # another member
CODE = referral_code(MEMBER)

FILE = """\
settings: {{hospital_timezone: Asia/Shanghai}}
journeys:
  - id: nothing
    version: 1
    name: A journey no event enters
    entry: {{event: patient.deceased}}
    steps:
      - {{id: note, flag: {{reason: never, weight: 1}}}}
loyalty:
  version: 1
  expiry: {{after: 12mo, round: month}}
  earn:
    - {{id: visit, on: encounter.completed, key: encounter_id, points: 10}}
{referrals}
"""
REFERRALS = "  referrals: {{max_uses: {max_uses}, claim_within: 30d, reward_after: {after}, referrer: {{points: 200}}, \
referee: {{points: 100}}}}"


def programme(tmp_path: Path, after: str = "first_visit", max_uses: int = 10, extra: str = "") -> Catalog:
    section = REFERRALS.format(max_uses=max_uses, after=after) if after else ""
    path = tmp_path / "journeys.yaml"
    path.write_text(FILE.format(referrals=section + extra), encoding="utf-8")
    return load_catalog(path)


def newcomer(
    patient: str, when: str, code: str = CODE, referrer: str | None = MEMBER, msg: str | None = None
) -> pa.PatientRegistered:
    return registered(patient, at(when), msg=msg, referral=pa.ReferralClaim(code=code, referrer_patient_id=referrer))


def submitted(patient: str, when: str, code: str, referrer: str | None) -> rf.ReferralSubmitted:
    return event(rf.ReferralSubmitted, patient, at(when), code=code, referrer_patient_id=referrer)


def rewards(sim: Simulation, patient: str) -> list[tuple[str, int]]:
    earned = recorded(sim, patient, lo.PointsEarned)
    return [(e.rule_id, e.points) for e in earned if e.rule_id.startswith("referral-")]


def refusal(sim: Simulation, patient: str) -> tuple[str, str, str]:
    (refused,) = recorded(sim, patient, rf.ReferralRefused)
    return refused.side, refused.code_reason, refused.reason


def assert_replays(sim: Simulation, *patients: str) -> None:
    for patient in patients:
        assert replay(sim.recorded[patient], PatientState(patient)) == sim.state(patient)


def test_a_friend_registered_with_a_members_code_is_attributed_and_both_earn_at_the_friends_first_visit(
    tmp_path: Path,
) -> None:
    sim = Simulation(programme(tmp_path))
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), newcomer(FRIEND, "2026-03-10 09:00")])

    (claimed,) = recorded(sim, FRIEND, rf.ReferralClaimed)
    (accepted,) = recorded(sim, MEMBER, rf.ReferralAccepted)
    assert (claimed.referral_id, claimed.code) == (rf.referral_id(FRIEND, CODE), CODE)
    assert accepted.reason == (
        "accepted: use 1 of 10 of the member's code; the rewards wait for the referee's first completed visit"
    )
    (waiting,) = recorded(sim, FRIEND, rf.ReferralAccepted)
    assert "wait for the patient's first completed visit" in waiting.reason
    assert rewards(sim, MEMBER) == rewards(sim, FRIEND) == []

    sim.feed([visit(FRIEND, at("2026-03-12 10:00"))])

    (attributed,) = recorded(sim, FRIEND, rf.ReferralAttributed)
    assert attributed.reason == "attributed: the patient's first completed visit since the claim"
    assert rewards(sim, FRIEND) == [("referral-referee", 100)]
    assert rewards(sim, MEMBER) == [("referral-referrer", 200)]
    (reward,) = [e for e in recorded(sim, MEMBER, lo.PointsEarned) if e.rule_id == "referral-referrer"]
    assert (reward.cause_type, reward.expires_at) == ("referral.converted", at("2027-04-01 00:00"))
    friend, member = sim.state(FRIEND).loyalty, sim.state(MEMBER).loyalty
    assert friend is not None and member is not None
    assert (friend.referred_by, friend.referral, member.referees) == (MEMBER, None, (FRIEND,))

    sim.feed([visit(FRIEND, at("2026-04-12 10:00"))])  # a second visit rewards nobody again
    assert rewards(sim, MEMBER) == [("referral-referrer", 200)] and rewards(sim, FRIEND) == [("referral-referee", 100)]
    assert_replays(sim, MEMBER, FRIEND)


def test_with_reward_after_attribution_both_earn_as_soon_as_the_referrer_accepts(tmp_path: Path) -> None:
    sim = Simulation(programme(tmp_path, after="attribution"))
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), newcomer(FRIEND, "2026-03-10 09:00")])

    assert rewards(sim, MEMBER) == [("referral-referrer", 200)]
    assert rewards(sim, FRIEND) == [("referral-referee", 100)]
    (attributed,) = recorded(sim, FRIEND, rf.ReferralAttributed)
    assert attributed.reason == "attributed: accepted by the referrer"
    assert recorded(sim, MEMBER, rf.ReferralAccepted)[0].reason == "accepted: use 1 of 10 of the member's code"
    assert_replays(sim, MEMBER, FRIEND)


class Lagging(Simulation):
    """Holds the referrer's answers back until ``deliver``: another partition's lag."""

    held: list[Event]

    def _react(self, patient_id: str, trigger: Event | Tick, until: datetime | None = None) -> None:
        if isinstance(trigger, rf.ReferralAnswered) and not getattr(self, "delivering", False):
            self.held = [*getattr(self, "held", []), trigger]
            return
        super()._react(patient_id, trigger, until)

    def deliver(self) -> None:
        self.delivering = True
        self.feed(self.held)


def test_a_visit_recorded_before_the_referrers_answer_arrives_attributes_with_the_answer(tmp_path: Path) -> None:
    sim = Lagging(programme(tmp_path))
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), newcomer(FRIEND, "2026-03-10 09:00"),
              visit(FRIEND, at("2026-03-10 11:00"))])  # fmt: skip
    assert rewards(sim, FRIEND) == [] and recorded(sim, FRIEND, rf.ReferralAttributed) == []

    sim.deliver()

    (attributed,) = recorded(sim, FRIEND, rf.ReferralAttributed)
    assert attributed.reason == "attributed: accepted by the referrer after the patient's first visit"
    assert rewards(sim, FRIEND) == [("referral-referee", 100)] and rewards(sim, MEMBER) == [("referral-referrer", 200)]
    assert_replays(sim, MEMBER, FRIEND)


def test_a_patients_own_code_is_refused_as_a_self_referral_and_nothing_is_handed_over(tmp_path: Path) -> None:
    sim = Simulation(programme(tmp_path))
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")),
              submitted(MEMBER, "2026-03-02 09:00", CODE, MEMBER)])  # fmt: skip

    assert refusal(sim, MEMBER) == (
        "referee",
        "self_referral",
        "refused (self_referral): the code is the patient's own referral code",
    )
    assert recorded(sim, MEMBER, rf.ReferralReceived) == [] and rewards(sim, MEMBER) == []


def test_a_code_used_up_refuses_the_second_friend_on_both_sides_naming_max_uses(tmp_path: Path) -> None:
    sim = Simulation(programme(tmp_path, after="attribution", max_uses=1))
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), newcomer(FRIEND, "2026-03-10 09:00"),
              newcomer(NEIGHBOUR, "2026-03-11 09:00")])  # fmt: skip

    side, code, reason = refusal(sim, NEIGHBOUR)
    assert (side, code) == ("referrer", "code_used_up")
    assert reason == (
        "refused (code_used_up): the referrer's side refused the claim: the code has brought as many referees as "
        "loyalty.referrals.max_uses allows"
    )
    assert refusal(sim, MEMBER) == (
        "referrer",
        "code_used_up",
        "refused (code_used_up): the member's code has already brought 1 referees (loyalty.referrals.max_uses: 1)",
    )
    assert rewards(sim, MEMBER) == [("referral-referrer", 200)] and rewards(sim, NEIGHBOUR) == []
    neighbour = sim.state(NEIGHBOUR).loyalty
    assert neighbour is not None and (neighbour.referral, neighbour.referred_by) == (None, None)
    assert_replays(sim, MEMBER, FRIEND, NEIGHBOUR)


def test_a_code_no_member_has_is_refused_as_unknown(tmp_path: Path) -> None:
    sim = Simulation(programme(tmp_path))
    sim.feed([newcomer(FRIEND, "2026-03-10 09:00", code=referral_code("pt-nobody"), referrer=None)])

    assert refusal(sim, FRIEND) == (
        "referee",
        "unknown_code",
        "refused (unknown_code): no member has this referral code",
    )


def test_a_second_code_is_refused_while_the_first_claim_is_open_and_after_it_is_attributed(tmp_path: Path) -> None:
    sim = Simulation(programme(tmp_path))
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), registered(OTHER, at("2026-03-01 09:00")),
              newcomer(FRIEND, "2026-03-10 09:00"),
              submitted(FRIEND, "2026-03-11 09:00", referral_code(OTHER), OTHER)])  # fmt: skip

    side, code, reason = refusal(sim, FRIEND)
    assert (side, code) == ("referee", "already_referred")
    assert reason == "refused (already_referred): the patient's claim of 2026-03-10 09:00 +08:00 is still open"
    sim.feed(
        [visit(FRIEND, at("2026-03-12 10:00")), submitted(FRIEND, "2026-03-13 09:00", referral_code(OTHER), OTHER)]
    )
    second = recorded(sim, FRIEND, rf.ReferralRefused)[-1]
    assert (second.code_reason, second.reason) == (
        "already_referred",
        "refused (already_referred): the patient was already attributed to a referrer",
    )
    assert recorded(sim, OTHER, rf.ReferralReceived) == [] and rewards(sim, OTHER) == []
    assert_replays(sim, MEMBER, OTHER, FRIEND)


def test_a_code_given_more_than_claim_within_after_enrolment_is_refused_as_too_late(tmp_path: Path) -> None:
    def claim(when: str) -> Simulation:
        sim = Simulation(programme(tmp_path))
        sim.feed([registered(MEMBER, at("2026-03-01 09:00")), registered(FRIEND, at("2026-03-10 09:00")),
                  submitted(FRIEND, when, CODE, MEMBER)])  # fmt: skip
        return sim

    (claimed,) = recorded(claim("2026-04-09 09:00"), FRIEND, rf.ReferralClaimed)  # 30 days to the minute: in time
    assert claimed.occurred_at == at("2026-04-09 09:00")
    assert refusal(claim("2026-04-09 09:01"), FRIEND) == (
        "referee",
        "too_late",
        "refused (too_late): claimed on 2026-04-09 09:01 +08:00, more than loyalty.referrals.claim_within (30d) "
        "after the patient enrolled on 2026-03-10 09:00 +08:00",
    )


@pytest.mark.parametrize("with_programme", [True, False], ids=["no referrals section", "no loyalty programme"])
def test_a_code_is_refused_as_programme_off_without_a_referrals_section(tmp_path: Path, with_programme: bool) -> None:
    catalog = programme(tmp_path, after="")
    if not with_programme:
        path = tmp_path / "journeys.yaml"
        path.write_text(path.read_text(encoding="utf-8").split("loyalty:")[0], encoding="utf-8")
        catalog = load_catalog(path)
    sim = Simulation(catalog)
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), newcomer(FRIEND, "2026-03-10 09:00")])

    assert refusal(sim, FRIEND) == (
        "referee",
        "programme_off",
        "refused (programme_off): the loaded journeys file has no loyalty.referrals section",
    )
    assert recorded(sim, MEMBER, rf.ReferralAccepted) == []


def test_a_claim_on_an_erased_referrer_stays_open_and_explain_says_so(tmp_path: Path) -> None:
    sim = Simulation(programme(tmp_path))
    erased = event(pa.PatientErased, MEMBER, at("2026-03-05 09:00"), reason="request", requested_by="dpo",
                   key_epoch=1)  # fmt: skip
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), erased, newcomer(FRIEND, "2026-03-10 09:00")])

    friend = sim.state(FRIEND).loyalty
    assert friend is not None and friend.referral is not None and friend.referral.accepted_at is None
    assert recorded(sim, MEMBER, rf.ReferralAccepted) == []
    story = explain(FRIEND, sim.recorded[FRIEND])
    assert story.loyalty[-1] == (
        at("2026-03-10 09:00"),
        f"referral: the claim is still waiting for the referrer's answer (a referrer who was erased never answers) "
        f"[referrer {CODE}]",
    )


def test_a_badge_and_an_earn_rule_may_count_a_referee_attributed(tmp_path: Path) -> None:
    extra = """
  badges:
    - {id: welcomed, on: referral.attributed, points: 5}
"""
    sim = Simulation(programme(tmp_path, after="attribution", extra=extra))
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), newcomer(FRIEND, "2026-03-10 09:00")])

    (badge,) = recorded(sim, FRIEND, lo.BadgeAwarded)
    (attributed,) = recorded(sim, FRIEND, rf.ReferralAttributed)
    assert (badge.badge_id, badge.evidence, badge.points) == ("welcomed", (attributed.event_id,), 5)


def test_the_hand_overs_have_the_same_ids_in_a_second_run(tmp_path: Path) -> None:
    def run() -> dict[str, list[Any]]:
        sim = Simulation(programme(tmp_path))
        sim.feed([registered(MEMBER, at("2026-03-01 09:00"), msg="m"), newcomer(FRIEND, "2026-03-10 09:00", msg="n"),
                  visit(FRIEND, at("2026-03-12 10:00"), msg="v")])  # fmt: skip
        return {p: [e.event_id for e in sim.recorded[p]] for p in (MEMBER, FRIEND)}

    first = run()
    assert first == run()
    assert len(first[MEMBER]) > 4


def test_explain_and_the_timeline_name_the_other_side_by_a_code_never_by_its_patient_id(tmp_path: Path) -> None:
    sim = Simulation(programme(tmp_path))
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), newcomer(FRIEND, "2026-03-10 09:00"),
              visit(FRIEND, at("2026-03-12 10:00"))])  # fmt: skip

    member = [text for _, text in explain(MEMBER, sim.recorded[MEMBER]).loyalty if text.startswith("referral")]
    friend = [text for _, text in explain(FRIEND, sim.recorded[FRIEND]).loyalty if text.startswith("referral")]
    assert member == [
        "referral.accepted: accepted: use 1 of 10 of the member's code; the rewards wait for the referee's first "
        f"completed visit [referee {referral_code(FRIEND)}]"
    ]
    assert friend == [
        f"referral.claimed: claimed another member's referral code; the referrer's answer is awaited [referrer {CODE}]",
        "referral.accepted: accepted by the referrer; attribution and both rewards wait for the patient's first "
        f"completed visit [referrer {CODE}]",
        f"referral.attributed: attributed: the patient's first completed visit since the claim [referrer {CODE}]",
    ]
    rows = timeline(sim.recorded[FRIEND], ZoneInfo("Asia/Shanghai"))
    assert [(r.journey_id, r.detail) for r in rows if r.kind.startswith("referral.")] == [
        ("loyalty", "referral claimed (as the referee)"),
        ("loyalty", "referral accepted (as the referee)"),
        ("loyalty", "referral attributed (as the referee)"),
    ]
    read = [*friend, *(f"{r.detail} {r.reason}" for r in rows)]  # what staff read about the friend
    assert not [line for line in read if MEMBER in line] and not [line for line in member if FRIEND in line]


def test_a_visit_after_the_referrals_section_was_removed_rewards_nobody_and_the_claim_stays(tmp_path: Path) -> None:
    sim = Simulation(programme(tmp_path))
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), newcomer(FRIEND, "2026-03-10 09:00")])
    later = tmp_path / "later"
    later.mkdir()
    sim.catalog = programme(later, after="")  # a file loaded later without loyalty.referrals

    sim.feed([visit(FRIEND, at("2026-03-12 10:00"))])

    friend = sim.state(FRIEND).loyalty
    assert recorded(sim, FRIEND, rf.ReferralAttributed) == [] and rewards(sim, FRIEND) == rewards(sim, MEMBER) == []
    assert friend is not None and friend.referral is not None and friend.referral.accepted_at is not None
