"""The experiment statistics against published worked examples: Newcombe's two 1998 papers in Statistics in
Medicine (17:857-872 for the single proportion, 17:873-890 for the difference of two independent proportions)."""

from __future__ import annotations

import pytest

from engine.reports import stats

# Newcombe 1998 (single proportion), method 3 (Wilson score without continuity correction)
WILSON = [
    ((81, 263), (0.2553, 0.3662)),
    ((15, 148), (0.0624, 0.1605)),
    ((0, 20), (0.0000, 0.1611)),
    ((1, 29), (0.0061, 0.1718)),
]
# Newcombe 1998 (difference), method 10 (hybrid score without continuity correction), examples (a)-(h) less (c)
NEWCOMBE = [
    ((56, 70), (48, 80), (0.0524, 0.3339)),
    ((9, 10), (3, 10), (0.1705, 0.8090)),
    ((5, 56), (0, 29), (-0.0381, 0.1926)),
    ((0, 10), (0, 20), (-0.1611, 0.2775)),
    ((0, 10), (0, 10), (-0.2775, 0.2775)),
    ((10, 10), (0, 20), (0.6791, 1.0000)),
    ((10, 10), (0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "interval"), WILSON)
def test_the_wilson_interval_of_an_arm_is_newcombes_method_3(
    counts: tuple[int, int], interval: tuple[float, float]
) -> None:
    got = stats.proportion(*counts)
    assert (round(got.low or 0, 4), round(got.high or 0, 4)) == interval
    assert got.rate == counts[0] / counts[1]


@pytest.mark.parametrize(("treated", "holdout", "interval"), NEWCOMBE)
def test_the_difference_interval_is_newcombes_hybrid_score_method_10(
    treated: tuple[int, int], holdout: tuple[int, int], interval: tuple[float, float]
) -> None:
    got = stats.difference(treated, holdout)
    assert got is not None
    assert (round(got.low, 4), round(got.high, 4)) == interval
    assert got.estimate == pytest.approx(treated[0] / treated[1] - holdout[0] / holdout[1])


def test_the_score_test_p_value_agrees_with_the_interval_about_zero() -> None:
    clear = stats.difference((56, 70), (48, 80))  # interval (0.0524, 0.3339): excludes 0
    unclear = stats.difference((5, 56), (0, 29))  # interval (-0.0381, 0.1926): contains 0
    assert clear is not None and unclear is not None
    assert clear.p_value < 0.05 < unclear.p_value


def test_arms_without_any_variation_have_nothing_to_test() -> None:
    none = stats.difference((0, 10), (0, 10))
    assert none is not None and none.p_value == 1.0


def test_an_empty_arm_has_no_rate_and_no_difference() -> None:
    assert stats.proportion(0, 0).rate is None
    assert stats.difference((3, 10), (0, 0)) is None


def test_counts_that_cannot_be_are_refused_naming_them() -> None:
    with pytest.raises(ValueError, match="got 11 of 10"):
        stats.proportion(11, 10)


def test_a_split_drawn_as_configured_passes_the_sample_ratio_check() -> None:
    srm = stats.sample_ratio({"treated": 795, "holdout": 205}, {"treated": 800.0, "holdout": 200.0})
    assert srm.p_value is not None and not srm.mismatch


def test_an_80_20_split_that_came_out_70_30_fails_the_sample_ratio_check() -> None:
    srm = stats.sample_ratio({"treated": 700, "holdout": 300}, {"treated": 800.0, "holdout": 200.0})
    assert srm.mismatch
    # scipy's chi-squared: (100^2/800 + 100^2/200) = 62.5 on one degree of freedom
    assert srm.p_value == pytest.approx(2.7e-15, rel=0.05)


def test_units_in_an_arm_the_split_never_draws_are_a_mismatch() -> None:
    assert stats.sample_ratio({"a": 10, "b": 10, "c": 1}, {"a": 10.5, "b": 10.5}).mismatch


def test_without_weights_the_sample_ratio_is_unknown_not_passed() -> None:
    srm = stats.sample_ratio({"treated": 10, "holdout": 2}, {})
    assert srm.p_value is None and not srm.mismatch


def test_a_mismatched_split_gives_no_verdict_even_for_a_clear_difference() -> None:
    diff = stats.difference((560, 700), (480, 800))
    bad = stats.sample_ratio({"treated": 700, "holdout": 800}, {"treated": 1200.0, "holdout": 300.0})
    good = stats.sample_ratio({"treated": 700, "holdout": 800}, {"treated": 750.0, "holdout": 750.0})
    assert diff is not None
    assert stats.verdict(diff, diff.p_value, bad) is None
    assert stats.verdict(diff, diff.p_value, good) == "treated higher"


def test_holm_adjusts_several_comparisons_upwards_in_step_down_order() -> None:
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([]) == []
