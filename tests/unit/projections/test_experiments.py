"""experiment_assignments: one row per experiment and unit, from a split's draw (the instance) or the global
holdout's (the patient), with the arm, whether it is the control, the weights and salt it was drawn with; and
journey_instances gains the arm its split drew."""

from __future__ import annotations

import json

from events import experiments as ex
from events import journey as jo
from projections.catalog import select
from projections.experiments.projection import changes
from tests.builders import at, discharge, event, recorded, simulation, visit
from tests.unit.projections.fold import column, engine_event, fold

P = "P-experiments"
SURVEY = "post-visit-satisfaction/split@survey-2026"


def surveyed(patient: str, *visits: str):
    sim = simulation(*(visit(patient, at(when), encounter_id=f"V-{n}") for n, when in enumerate(visits)))
    sim.run_until(at("2026-04-01 00:00"))
    return sim


def test_a_split_draw_is_an_assignment_of_the_instance_with_its_arm_weights_and_salt():
    sim = surveyed(P, "2026-03-02 10:00")
    (drawn,) = recorded(sim, P, jo.BranchTaken, "post-visit-satisfaction")

    (row,) = fold(sim.recorded[P]).rows("experiment_assignments")

    assert (row["experiment_id"], row["unit_id"], row["instance_id"]) == (SURVEY, drawn.instance_id, drawn.instance_id)
    assert (row["patient_id"], row["kind"], row["journey_id"], row["step_id"]) == (
        P,
        "journey_split",
        "post-visit-satisfaction",
        "split",
    )
    assert (row["arm"], row["holdout"]) == (drawn.branch, drawn.branch == "holdout")
    assert json.loads(row["weights"]) == {"survey": 90, "holdout": 10}
    assert (row["salt"], row["assigned_at"], row["event_id"]) == ("survey-2026", at("2026-03-02 10:00"), drawn.event_id)


def test_patients_land_in_both_arms_and_the_holdout_flag_follows_the_arm():
    patients = [f"P-arm-{n:02d}" for n in range(40)]
    rows = [
        r for p in patients for r in fold(surveyed(p, "2026-03-02 10:00").recorded[p]).rows("experiment_assignments")
    ]

    assert {(r["arm"], r["holdout"]) for r in rows} == {("survey", False), ("holdout", True)}
    assert len(rows) == len(patients)


def test_each_instance_is_a_unit_and_a_patient_who_comes_back_keeps_the_arm():
    sim = surveyed(P, "2026-03-02 10:00", "2026-03-20 10:00")

    rows = sorted(fold(sim.recorded[P]).rows("experiment_assignments"), key=lambda r: r["assigned_at"])

    assert len({r["unit_id"] for r in rows}) == 2
    assert len({r["arm"] for r in rows}) == 1  # sticky: the draw hashes the patient, journey, step and salt
    assert [r["assigned_at"] for r in rows] == [at("2026-03-02 10:00"), at("2026-03-20 10:00")]


def test_the_instance_records_the_arm_its_split_drew_and_a_journey_without_a_split_none():
    sim = simulation(visit(P, at("2026-03-02 10:00")), discharge(P, at("2026-03-03 10:00")))
    (drawn,) = recorded(sim, P, jo.BranchTaken, "post-visit-satisfaction")

    rows = {r["journey_id"]: r for r in fold(sim.recorded[P]).rows("journey_instances")}

    assert (rows["post-visit-satisfaction"]["arm"], rows["post-visit-satisfaction"]["holdout"]) == (
        drawn.branch,
        drawn.holdout,
    )
    assert (rows["post-op-follow-up"].get("arm"), rows["post-op-follow-up"].get("holdout")) == (None, None)


def branch(n: int, when: str, split: jo.SplitDraw | None, name: str = "survey", holdout: bool = False):
    return engine_event(
        jo.BranchTaken,
        P,
        at(when),
        n,
        instance_id="i-1",
        journey_id="post-visit-satisfaction",
        step_id="split",
        next_step_id="wait-evening",
        branch=name,
        holdout=holdout,
        split=split,
    )


def test_an_ordinary_branch_is_no_assignment():
    unhappy = branch(1, "2026-03-02 19:30", None, name="unhappy")

    assert changes(unhappy) == []
    assert fold([unhappy]).rows("journey_instances") == []


def test_a_version_1_split_whose_draw_was_not_recorded_is_an_assignment_without_salt_or_weights():
    unknown = jo.SplitDraw(salt=None, weights=None, bucket=None)  # what the upcaster gives a v1 split

    (row,) = fold([branch(1, "2026-03-02 10:00", unknown)]).rows("experiment_assignments")

    assert (row["experiment_id"], row["salt"], row["weights"]) == ("post-visit-satisfaction/split@", None, None)
    assert (row["arm"], row["holdout"]) == ("survey", False)


def test_a_split_reached_again_in_the_same_instance_keeps_the_first_draw_time():
    draw = jo.SplitDraw(salt="survey-2026", weights={"survey": 90, "holdout": 10}, bucket=12)
    first, again = branch(1, "2026-03-02 10:00", draw), branch(2, "2026-03-09 10:00", draw)

    rows = fold([first, again]).rows("experiment_assignments")

    assert column(rows, "unit_id", "arm", "assigned_at", "event_id") == [
        ("i-1", "survey", at("2026-03-02 10:00"), first.event_id)
    ]


def test_a_new_salt_is_a_new_experiment():
    old = jo.SplitDraw(salt="survey-2026", weights={"survey": 90, "holdout": 10}, bucket=12)
    new = jo.SplitDraw(salt="survey-2027", weights={"survey": 80, "holdout": 20}, bucket=3)

    rows = fold([branch(1, "2026-03-02 10:00", old), branch(2, "2027-01-05 10:00", new)]).rows("experiment_assignments")

    assert column(rows, "experiment_id") == [(SURVEY,), ("post-visit-satisfaction/split@survey-2027",)]


def assigned(patient: str, arm: str, share_bp: int = 500):
    return event(
        ex.ExperimentAssigned,
        patient,
        at("2026-03-02 10:00"),
        experiment_id="gh-2026",
        kind="global_holdout",
        arm=arm,
        holdout=arm == "holdout",
        share_bp=share_bp,
        salt="gh-salt",
    )


def test_a_global_holdout_assignment_is_the_patient_s_in_either_arm_with_the_share_as_weights():
    rows = fold([assigned("P-held", "holdout"), assigned("P-treated", "treated")]).rows("experiment_assignments")

    assert column(rows, "experiment_id", "unit_id", "patient_id", "kind", "arm", "holdout", "salt") == [
        ("gh-2026", "P-held", "P-held", "global_holdout", "holdout", True, "gh-salt"),
        ("gh-2026", "P-treated", "P-treated", "global_holdout", "treated", False, "gh-salt"),
    ]
    assert {json.dumps(json.loads(r["weights"]), sort_keys=True) for r in rows} == {'{"holdout": 500, "treated": 9500}'}
    assert column(rows, "journey_id", "step_id", "instance_id") == [(None, None, None)] * 2


def test_the_projection_is_one_the_runner_follows_with_its_table():
    (projection,) = select("experiments")

    assert projection.tables == ("experiment_assignments",)
    assert "CREATE TABLE IF NOT EXISTS experiment_assignments" in projection.schema_sql()
