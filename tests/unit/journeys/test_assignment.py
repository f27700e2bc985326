"""Sticky assignment: splits draw with assignment.bucket exactly as they did before it existed (a different hash
would move every running patient's arm), and branch_taken records the draw."""

from __future__ import annotations

import hashlib

import pytest

from engine.journeys.assignment import bucket
from events import journey as jo
from tests.builders import at, questionnaire, recorded, simulation, visit

JOURNEY = "post-visit-satisfaction"
SALT = "survey-2026"  # journeys.yaml's salt for the survey split
ARMS = (("survey", 90), ("holdout", 10))


def bucket_before_assignment_existed(salt: str, patient_id: str, journey_id: str, step_id: str, total: int) -> int:
    """steps._split's formula as it stood before assignment.bucket (commit 8f50d50), copied verbatim."""
    digest = hashlib.sha256(f"{salt}|{patient_id}|{journey_id}|{step_id}".encode()).hexdigest()
    return int(digest[:12], 16) % total


def arm_of(drawn: int) -> str:
    for name, weight in ARMS:
        if drawn < weight:
            return name
        drawn -= weight
    raise AssertionError("a bucket below the total weight always falls in an arm")


@pytest.mark.parametrize(
    ("salt", "journey_id", "step_id", "total"),
    [("", "post-op-follow-up", "split", 2), (SALT, JOURNEY, "split", 100), ("x|y", "j", "s", 7), ("新", "j", "s", 3)],
)
def test_bucket_gives_every_patient_the_bucket_the_old_split_formula_gave(salt, journey_id, step_id, total):
    patients = [f"P{n:05d}" for n in range(3000)] + [f"MRN-{n}^RENHE" for n in range(500)]

    now = [bucket(salt, p, journey_id, step_id, modulus=total) for p in patients]

    assert now == [bucket_before_assignment_existed(salt, p, journey_id, step_id, total) for p in patients]
    assert set(now) == set(range(total))  # the draws spread over every bucket, so the comparison means something


def test_bucket_refuses_a_modulus_below_one():
    with pytest.raises(ValueError, match="modulus must be at least 1, got 0"):
        bucket("salt", "P1", modulus=0)


def test_split_keeps_each_patients_arm_and_records_its_draw():
    patients = [f"P{n:03d}" for n in range(1, 121)]
    sim = simulation(*(visit(p, at("2026-03-06 10:30"), department="ent") for p in patients))

    sim.run_until(at("2026-03-07 00:00"))

    for p in patients:
        (taken,) = [b for b in recorded(sim, p, jo.BranchTaken, JOURNEY) if b.step_id == "split"]
        expected = bucket_before_assignment_existed(SALT, p, JOURNEY, "split", 100)
        assert (taken.branch, taken.holdout) == (arm_of(expected), arm_of(expected) == "holdout")
        assert taken.split == jo.SplitDraw(salt=SALT, weights=dict(ARMS), bucket=expected)
        assert taken.schema_version == 2
    assert {b.branch for p in patients for b in recorded(sim, p, jo.BranchTaken, JOURNEY)} >= {"survey", "holdout"}


def test_an_ordinary_branch_records_no_split_draw():
    answered = questionnaire("P001", at("2026-03-06 21:00"), "satisfaction", score=4)
    sim = simulation(visit("P001", at("2026-03-06 10:30"), department="ent"), answered)

    sim.run_until(at("2026-03-20 00:00"))

    others = [b for b in recorded(sim, "P001", jo.BranchTaken) if b.step_id != "split"]
    assert others and all(b.split is None for b in others)
