"""The loyalty core's other decisions on the Simulation, with a small programme of its own: requalification keeps
a tier whose keep is met and takes it down otherwise, warning a month before when the points fall short; a
repeated adjustment changes nothing and another amount under the same id is refused; a reversal of points already
spent, without a negative balance, says what it could not take back; conditions read ``patient.loyalty``."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.journeys.catalog import Catalog
from engine.journeys.evaluate import PatientView
from engine.journeys.evolve import replay
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.language.errors import JourneyFileError
from engine.language.loader import load_catalog
from events import encounters as en
from events import journey as jo
from events import loyalty as lo
from events import patient as pa
from tests.builders import at, event, recorded, registered, visit

PROGRAMME = """\
settings: {hospital_timezone: Asia/Shanghai}
journeys:
  - id: nothing
    version: 1
    name: A journey no event enters
    entry: {event: patient.deceased}
    steps:
      - {id: note, flag: {reason: never, weight: 1}}
loyalty:
  version: 3
  earn:
    - {id: visit, on: encounter.completed, key: encounter_id, reversed_by: [encounter.cancelled], points: 100}
  tiers:
    period: 12mo
    requalify: {every: 1y}
    warn_before: 30d
    levels:
      - {id: regular}
      - {id: silver, entry: 200, keep: 150, privileges: [priority-booking]}
  rewards:
    - {id: gift, kind: gift, points: 100}
"""


def programme(tmp_path: Path) -> Catalog:
    path = tmp_path / "journeys.yaml"
    path.write_text(PROGRAMME, encoding="utf-8")
    return load_catalog(path)


def test_silver_falling_short_is_warned_a_month_before_and_taken_down_at_requalification(tmp_path: Path) -> None:
    sim = Simulation(programme(tmp_path))
    sim.feed([registered("P1", at("2025-11-01 09:00")), visit("P1", at("2025-11-20 10:00")),
              visit("P1", at("2026-01-06 10:00"))])  # fmt: skip
    sim.run_until(at("2027-02-01 00:00"))

    up, down = recorded(sim, "P1", lo.TierChanged)
    (risk,) = recorded(sim, "P1", lo.TierAtRisk)
    assert (up.to_tier, up.requalify_at) == ("silver", at("2027-01-06 00:00"))
    # a month before, the November visit has left the 12 months: 100 qualifying points, 50 short of the keep
    assert (risk.occurred_at, risk.qualifying, risk.short_by) == (at("2026-12-07 00:00"), 100, 50)
    assert (down.occurred_at, down.direction, down.cause, down.to_tier) == (
        at("2027-01-06 00:00"),
        "down",
        "not_requalified",
        "regular",
    )
    loyalty = sim.state("P1").loyalty
    assert down.requalify_at is None and loyalty is not None and loyalty.tier == "regular"
    assert replay(sim.recorded["P1"], PatientState("P1")) == sim.state("P1")


def test_silver_whose_keep_is_met_is_kept_for_another_year(tmp_path: Path) -> None:
    sim = Simulation(programme(tmp_path))
    sim.feed([registered("P1", at("2025-11-01 09:00")), visit("P1", at("2025-11-20 10:00")),
              visit("P1", at("2026-01-06 10:00")), visit("P1", at("2026-11-01 10:00"))])  # fmt: skip
    sim.run_until(at("2027-02-01 00:00"))

    (kept,) = recorded(sim, "P1", lo.TierKept)
    assert (kept.occurred_at, kept.tier, kept.qualifying, kept.requalify_at) == (
        at("2027-01-06 00:00"),
        "silver",
        200,
        at("2028-01-06 00:00"),
    )
    assert recorded(sim, "P1", lo.TierAtRisk) == []


def test_a_repeated_adjustment_changes_nothing_and_another_amount_under_its_id_is_refused(tmp_path: Path) -> None:
    def adjustment(when: str, points: int, msg: str) -> lo.PointsAdjustmentRequested:
        return event(lo.PointsAdjustmentRequested, "P1", at(when), msg=msg, external_id="ADJ-17", points=points,
                     reason_code="goodwill", by="desk-1")  # fmt: skip

    sim = Simulation(programme(tmp_path))
    sim.feed([registered("P1", at("2026-06-01 09:00")), adjustment("2026-06-02 10:00", 200, "a"),
              adjustment("2026-06-03 10:00", 200, "b"), adjustment("2026-06-04 10:00", 300, "c")])  # fmt: skip

    (adjusted,) = recorded(sim, "P1", lo.PointsAdjusted)
    (repeated,) = recorded(sim, "P1", lo.PointsAdjustmentRepeated)
    (refused,) = recorded(sim, "P1", lo.PointsAdjustmentRefused)
    assert adjusted.points == 200 and repeated.applied_event_id == adjusted.event_id
    assert (refused.code, refused.reason) == ("conflicting_repeat", "the external id already adjusted by 200 points")
    view = PatientView(sim.state("P1"), at("2026-06-05 00:00"), sim.catalog.settings.churn_levels,
                       (sim.catalog.loyalty, "Asia/Shanghai"))  # fmt: skip
    assert view["loyalty"]["points"] == 200  # type: ignore[index]


def test_a_reversal_of_spent_points_says_what_it_could_not_take_back_without_a_negative_balance(
    tmp_path: Path,
) -> None:
    sim = Simulation(programme(tmp_path))
    sim.feed([
        registered("P1", at("2026-03-01 09:00")), visit("P1", at("2026-03-02 10:00"), "V1"),
        event(lo.PointsRedemptionRequested, "P1", at("2026-03-03 10:00"), reward_id="gift", ref="R1", by="desk-1"),
        event(en.EncounterCancelled, "P1", at("2026-03-04 10:00"), encounter_id="V1", cancelled="visit"),
    ])  # fmt: skip

    (reversed_,) = recorded(sim, "P1", lo.PointsReversed)
    assert (reversed_.points_taken, reversed_.unrecovered, reversed_.qualifying_removed) == (0, 100, 100)
    assert "100 points already spent could not be taken back: loyalty.allow_negative is false" in reversed_.reason
    view = PatientView(sim.state("P1"), at("2026-03-05 00:00"), sim.catalog.settings.churn_levels,
                       (sim.catalog.loyalty, "Asia/Shanghai"))  # fmt: skip
    assert view["loyalty"] == {
        "member": True, "tier": "regular", "tier_since": "2026-03-01T09:00:00+08:00", "requalify_at": None,
        "privileges": [], "points": 0, "pending": 0, "qualifying": 0, "badges": [],
    }  # fmt: skip


def test_conditions_read_a_members_tier_and_privileges_and_a_non_member_is_no_member(tmp_path: Path) -> None:
    sim = Simulation(programme(tmp_path))
    sim.feed([registered("P1", at("2026-03-01 09:00")), visit("P1", at("2026-03-02 10:00")),
              visit("P1", at("2026-03-03 10:00"))])  # fmt: skip
    levels = sim.catalog.settings.churn_levels

    member = PatientView(sim.state("P1"), at("2026-03-04 00:00"), levels, (sim.catalog.loyalty, "Asia/Shanghai"))
    stranger = PatientView(PatientState("P2"), at("2026-03-04 00:00"), levels, (sim.catalog.loyalty, "Asia/Shanghai"))
    assert member["loyalty"]["tier"] == "silver"  # type: ignore[index]
    assert member["loyalty"]["privileges"] == ["priority-booking"]  # type: ignore[index]
    assert member["loyalty"]["qualifying"] == 200  # type: ignore[index]
    assert stranger["loyalty"] == {"member": False}


WELCOME = """\
  - id: silver-welcome
    version: 1
    name: A call for members who reached silver, at their next visit
    entry: {event: encounter.completed, when: [{field: patient.loyalty.privileges, in: [priority-booking]}]}
    steps:
      - {id: call, task: {queue: member-services, title: Welcome call for a silver member, sla: 2d}}
"""


def test_a_journey_enters_only_for_members_whose_tier_has_the_privilege(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text(PROGRAMME.replace("journeys:\n", "journeys:\n" + WELCOME), encoding="utf-8")
    sim = Simulation(load_catalog(path))
    sim.feed([registered("P1", at("2026-03-01 09:00")), visit("P1", at("2026-03-02 10:00")),
              visit("P1", at("2026-03-03 10:00")), visit("P1", at("2026-03-04 10:00"))])  # fmt: skip

    # the second visit made P1 silver after its journeys were decided; the third enters
    (started,) = recorded(sim, "P1", jo.JourneyStarted)
    assert started.occurred_at == at("2026-03-04 10:00")


def test_an_unknown_loyalty_field_in_a_condition_is_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    misspelt = WELCOME.replace("patient.loyalty.privileges", "patient.loyalty.privilege")
    path.write_text(PROGRAMME.replace("journeys:\n", "journeys:\n" + misspelt), encoding="utf-8")

    with pytest.raises(JourneyFileError) as refused:
        load_catalog(path)
    assert "journeys.yaml:6:" in str(refused.value)
    assert "unknown loyalty field 'privilege'; did you mean 'privileges'?" in str(refused.value)


def test_a_rule_giving_fewer_qualifying_points_than_points_counts_each_and_a_cancel_takes_both_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text(PROGRAMME.replace("points: 100}", "points: 100, qualifying: 40}", 1), encoding="utf-8")
    sim = Simulation(load_catalog(path))
    sim.feed([registered("P1", at("2026-03-01 09:00")), visit("P1", at("2026-03-02 10:00"), "V1")])
    levels, programme = sim.catalog.settings.churn_levels, (sim.catalog.loyalty, "Asia/Shanghai")

    earned = PatientView(sim.state("P1"), at("2026-03-03 00:00"), levels, programme)["loyalty"]
    assert (earned["points"], earned["qualifying"]) == (100, 40)  # type: ignore[index]

    sim.feed([event(en.EncounterCancelled, "P1", at("2026-03-04 10:00"), encounter_id="V1", cancelled="visit")])
    (reversed_,) = recorded(sim, "P1", lo.PointsReversed)
    assert (reversed_.points_taken, reversed_.qualifying_removed) == (100, 40)
    after = PatientView(sim.state("P1"), at("2026-03-05 00:00"), levels, programme)["loyalty"]
    assert (after["points"], after["qualifying"]) == (0, 0)  # type: ignore[index]


@pytest.mark.parametrize(
    ("zone", "visit_at", "expires"),
    [
        ("Asia/Shanghai", "2026-03-05T14:37:22+08:00", "2026-03-06T14:38:00+08:00"),
        # the night before New York's clocks go forward: a 1d expiry is 23 hours later
        ("America/New_York", "2026-03-07T22:30:00-05:00", "2026-03-08T22:30:00-04:00"),
    ],
)
def test_points_are_spendable_a_minute_before_their_expiry_in_the_patients_zone_and_gone_at_it(
    tmp_path: Path, zone: str, visit_at: str, expires: str
) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text(PROGRAMME.replace("  earn:\n", "  expiry: {after: 1d}\n  earn:\n"), encoding="utf-8")
    expiry = datetime.fromisoformat(expires)
    for minutes_before, outcome in ((1, lo.PointsSpent), (0, lo.PointsRedemptionRefused)):
        sim = Simulation(load_catalog(path))
        visited = datetime.fromisoformat(visit_at)
        redeemed = expiry - timedelta(minutes=minutes_before)
        sim.feed([
            event(pa.PatientRegistered, "P1", visited - timedelta(hours=1), timezone=zone),
            visit("P1", visited, "V1"),
            event(lo.PointsRedemptionRequested, "P1", redeemed, reward_id="gift", ref="R1", by="desk-1"),
        ])  # fmt: skip

        (earned,) = recorded(sim, "P1", lo.PointsEarned)
        assert earned.expires_at == expiry and earned.expiry_zone == zone
        (decided,) = recorded(sim, "P1", outcome)
        if isinstance(decided, lo.PointsRedemptionRefused):
            # the expiry fired at its instant, before the request recorded then
            assert decided.code == "points_expired" and decided.expired_recently == 100
