"""Staged rollout: a share of new entries starts on the candidate version, drawn sticky per patient from a salted
hash; raising the share only adds patients; a rollback stops new candidates while running ones follow the plan."""

from __future__ import annotations

import math
from datetime import timedelta
from functools import cache

from engine.journeys import migration
from engine.journeys.assignment import bucket
from engine.journeys.deployments import EPOCH, Deployment
from engine.journeys.simulation import Simulation
from events import journey as jo
from tests.builders import at, discharge, recorded, sent, started
from tests.unit.journeys.deployed_journeys import JOURNEY, catalog, deployment

SALT = "pof-v3"
OPENED = at("2026-03-01 08:00")
PATIENTS = [f"P-{n:05d}" for n in range(10_000)]


def rollout(share_bp: int = 1_000, salt: str = SALT) -> Deployment:
    """v2 stable, v3 the candidate for ``share_bp`` of new entries, from OPENED."""
    return deployment(2, OPENED, 2, rollout=(2, 3, share_bp, salt))


@cache
def in_force(share_bp: int) -> Deployment:
    return catalog(rollout(share_bp)).in_force(OPENED)


def arm(patient: str, share_bp: int = 1_000) -> str:
    version, _ = in_force(share_bp).version_for(JOURNEY, patient)
    return "candidate" if version == 3 else "stable"


def test_a_ten_percent_rollout_keeps_each_patient_on_one_version_on_reentry() -> None:
    candidate = next(p for p in PATIENTS if arm(p) == "candidate")
    stable = next(p for p in PATIENTS if arm(p) == "stable")
    sim = Simulation(catalog(rollout()))

    # Each patient has two operations a month apart: a follow-up each, the second after the first completed
    for p in (candidate, stable):
        sim.feed([discharge(p, at("2026-03-02 10:00"), encounter_id="E1")])
        sim.feed([discharge(p, at("2026-05-02 10:00"), encounter_id="E2")])
    sim.run_until(at("2026-08-01 00:00"))

    for p, version in ((candidate, 3), (stable, 2)):
        first, second = started(sim, p, JOURNEY)
        assert (first.journey_version, second.journey_version) == (version, version)
        assert first.rollout is not None and first.rollout == second.rollout
        expected = bucket(SALT, p, JOURNEY, "rollout", modulus=10_000)
        assert (first.rollout.bucket, first.rollout.share_bp, first.rollout.salt) == (expected, 1_000, SALT)
        assert first.rollout.arm == ("candidate" if version == 3 else "stable")
    # the candidate's day-7 message is v3's, the stable patient's v2's
    assert sent(sim, candidate)[1][0] == "postop-day7-rehab-v3"
    assert sent(sim, stable)[1][0] == "postop-day7-rehab"


def test_ten_thousand_patients_split_within_sampling_error() -> None:
    candidates = sum(arm(p) == "candidate" for p in PATIENTS)

    # the binomial 99.9 % interval around 10 % of 10,000: 1,000 ± 3.29 standard deviations (about 99)
    half_width = 3.29 * math.sqrt(10_000 * 0.1 * 0.9)
    assert abs(candidates - 1_000) <= half_width
    assert 0 < candidates < 10_000


def test_raising_the_share_never_moves_a_candidate_back() -> None:
    at_10 = {p for p in PATIENTS if arm(p, 1_000) == "candidate"}
    at_25 = {p for p in PATIENTS if arm(p, 2_500) == "candidate"}
    at_50 = {p for p in PATIENTS if arm(p, 5_000) == "candidate"}

    assert at_10 <= at_25 <= at_50
    assert len(at_10) < len(at_25) < len(at_50)


def test_the_same_salt_draws_the_same_arm_whatever_the_order_of_arrival() -> None:
    sim_a, sim_b = Simulation(catalog(rollout())), Simulation(catalog(rollout()))
    events = [discharge(p, at("2026-03-02 10:00"), encounter_id=f"E-{p}") for p in PATIENTS[:60]]

    sim_a.feed(events)
    sim_b.feed(reversed(events))

    for p in PATIENTS[:60]:
        assert [s.rollout for s in started(sim_a, p)] == [s.rollout for s in started(sim_b, p)]


def test_a_journey_without_a_rollout_records_no_draw() -> None:
    sim = Simulation(catalog())
    sim.feed([discharge("P-1", at("2026-03-02 10:00"))])

    (start,) = started(sim, "P-1")
    assert (start.journey_version, start.rollout) == (2, None)


def test_rollback_stops_new_entries_on_the_candidate_while_running_ones_follow_the_plan() -> None:
    # Given a 10 % rollout of v3 from OPENED, rolled back at T: v2 stable only, running candidates finish on v3
    t = at("2026-03-06 10:00")
    back = deployment(3, t, 2, kind="rollback", running="finish", from_versions=(3,), to=2)
    with_rollout = catalog(rollout())
    sim = Simulation(with_rollout.with_deployments((*with_rollout.deployments, back)))
    before = PATIENTS[:200]
    after = PATIENTS[200:400]
    sim.feed([discharge(p, at("2026-03-02 10:00"), encounter_id=f"E-{p}") for p in before])
    sim.run_until(t - timedelta(seconds=1))
    plan = migration.plan(sim.states.values(), sim.catalog, back)

    sim.feed([discharge(p, t + timedelta(hours=1), encounter_id=f"E-{p}") for p in after])
    sim.run_until(at("2026-05-01 00:00"))

    # after T no candidate starts, whatever the patient's bucket
    assert {s.journey_version for p in after for s in started(sim, p)} == {2}
    assert all(s.rollout is None for p in after for s in started(sim, p))
    # running candidates finish on v3, as the plan said, each recorded with the deployment's reason
    candidates = [p for p in before if arm(p) == "candidate"]
    assert candidates and all(sent(sim, p)[1][0] == "postop-day7-rehab-v3" for p in candidates)
    kept = sorted(
        (e.patient_id, e.instance_id, e.step_id, "keep", e.reason)
        for p in before
        for e in recorded(sim, p, jo.JourneyVersionKept)
    )
    assert kept == sorted((x.patient_id, x.instance_id, x.step_id, x.outcome, x.reason) for x in plan.lines)
    assert {p for p, *_ in kept} == set(candidates)
    assert all(e.cause == "running_finish" for p in before for e in recorded(sim, p, jo.JourneyVersionKept))
    # stable patients were never considered: no directive names v2
    assert all(recorded(sim, p, jo.JourneyVersionKept) == [] for p in before if p not in candidates)
    assert sim.catalog.in_force(EPOCH).deployment_id == 1
