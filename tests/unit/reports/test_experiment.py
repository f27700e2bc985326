"""The experiment report's arithmetic on its rows: each treated arm against the holdout arm of its own group, Holm
over an experiment's comparisons, and a failed sample-ratio check that silences every comparison of its experiment
only."""

from __future__ import annotations

from typing import Any

from engine.reports import stats
from engine.reports.experiment import comparisons, sample_ratios


def arm(experiment: str, journey: str, name: str, successes: int, patients: int, **dims: Any) -> dict[str, Any]:
    return {"experiment": experiment, "journey": journey, "arm": name, "holdout": name == "holdout",
            "successes": successes, "patients": patients, **dims}  # fmt: skip


def test_each_treated_arm_is_compared_with_the_holdout_of_its_own_breakdown() -> None:
    rows = [
        arm("x", "post-op", "treated", 56, 70, department="surgery"),
        arm("x", "post-op", "holdout", 48, 80, department="surgery"),
        arm("x", "post-op", "treated", 9, 10, department="orthopedics"),
        arm("x", "post-op", "holdout", 3, 10, department="orthopedics"),
    ]
    fine = {"x": stats.sample_ratio({"treated": 80, "holdout": 90}, {"treated": 85.0, "holdout": 85.0})}
    got = {c["department"]: c for c in comparisons(rows, ("department",), fine)}
    assert (round(got["surgery"]["difference"]["low"], 4), round(got["surgery"]["difference"]["high"], 4)) == (
        0.0524,
        0.3339,
    )
    assert round(got["orthopedics"]["difference"]["low"], 4) == 0.1705
    p = [got["surgery"]["difference"]["p_value"], got["orthopedics"]["difference"]["p_value"]]
    assert [got["surgery"]["p_holm"], got["orthopedics"]["p_holm"]] == stats.holm(p)
    assert {c["verdict"] for c in got.values()} == {"treated higher"}


def test_a_group_without_a_holdout_arm_has_no_difference_and_no_verdict() -> None:
    rows = [arm("x", "diabetes-care", "treated", 5, 9)]
    fine = {"x": stats.sample_ratio({"treated": 9, "holdout": 1}, {"treated": 9.0, "holdout": 1.0})}
    [c] = comparisons(rows, (), fine)
    assert c["difference"] is None and c["verdict"] is None


def test_a_sample_ratio_mismatch_silences_its_own_experiment_and_no_other() -> None:
    rows = [
        arm("x", "post-op", "treated", 56, 70),
        arm("x", "post-op", "holdout", 48, 80),
        arm("y", "post-op", "treated", 56, 70),
        arm("y", "post-op", "holdout", 48, 80),
    ]
    split = [
        {"experiment": "x", "arm": "treated", "patients": 700, "expected": 800, "unweighted": 0},
        {"experiment": "x", "arm": "holdout", "patients": 300, "expected": 200, "unweighted": 0},
        {"experiment": "y", "arm": "treated", "patients": 795, "expected": 800, "unweighted": 0},
        {"experiment": "y", "arm": "holdout", "patients": 205, "expected": 200, "unweighted": 0},
    ]
    checks = sample_ratios(split)
    assert checks["x"].mismatch and not checks["y"].mismatch
    got = {c["experiment"]: c for c in comparisons(rows, (), checks)}
    assert got["x"]["verdict"] is None and got["x"]["difference"] is None and got["x"]["p_holm"] is None
    assert got["y"]["verdict"] == "treated higher" and got["y"]["difference"] is not None


def test_an_experiment_with_assignments_that_carry_no_weights_is_not_checked() -> None:
    split = [
        {"experiment": "x", "arm": "treated", "patients": 7, "expected": None, "unweighted": 10},
        {"experiment": "x", "arm": "holdout", "patients": 3, "expected": None, "unweighted": 10},
    ]
    check = sample_ratios(split)["x"]
    assert check.p_value is None and check.observed == {"treated": 7, "holdout": 3}


def test_each_comparison_carries_the_effect_its_arms_sizes_could_detect_at_the_holdouts_rate() -> None:
    rows = [arm("x", "post-op", "treated", 100, 200), arm("x", "post-op", "holdout", 80, 200)]
    fine = {"x": stats.sample_ratio({"treated": 200, "holdout": 200}, {"treated": 200.0, "holdout": 200.0})}
    [c] = comparisons(rows, (), fine)
    # 200 and 200 at the holdout's 80/200 = 0.40: 0.139360 (worked by hand in test_power_and_survival.py)
    assert c["mde"] == stats.minimum_detectable_effect(200, 200, 0.4)
    assert round(c["mde"], 5) == 0.13936
    [alone] = comparisons([arm("x", "post-op", "treated", 5, 9)], (), fine)
    assert alone["mde"] is None  # no holdout arm, nothing to detect against
