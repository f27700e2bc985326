"""The experiment report's minimum detectable effect and its curves of time to return, against values worked out by
hand from the textbook formulas (statsmodels computes them; these check it is asked the right question)."""

from __future__ import annotations

import pytest

from engine.reports import stats

# The minimum detectable effect, by hand. Two-sided alpha 0.05 and power 0.8 with the normal approximation (the far
# tail's share of the power is below 1e-8 at these sizes):
#   h = (z_0.975 + z_0.80) * sqrt(1/n_treated + 1/n_holdout),  z_0.975 = 1.959964, z_0.80 = 0.841621
#   Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0))  =>  p1 = sin^2(asin(sqrt(p0)) + h/2),  MDE = p1 - p0
# (a) 200 and 200, p0 = 0.40: h = 2.801585 * 0.1 = 0.280159; asin(sqrt(0.4)) = 0.684719; + h/2 = 0.824798;
#     sin = 0.734411; p1 = 0.539360; MDE = 0.139360
# (b) 400 treated, 100 held out, p0 = 0.20: h = 2.801585 * sqrt(0.0125) = 0.313227; asin(sqrt(0.2)) = 0.463648;
#     + h/2 = 0.620261; sin = 0.581248; p1 = 0.337849; MDE = 0.137849
HAND = [((200, 200, 0.40), 0.139360), ((400, 100, 0.20), 0.137849)]


@pytest.mark.parametrize(("arms", "mde"), HAND)
def test_the_minimum_detectable_effect_is_the_rise_over_the_holdout_rate_found_with_80_percent_power(
    arms: tuple[int, int, float], mde: float
) -> None:
    assert stats.minimum_detectable_effect(*arms) == pytest.approx(mde, abs=2e-6)


def test_a_bigger_holdout_detects_a_smaller_effect() -> None:
    small = stats.minimum_detectable_effect(400, 100, 0.2)
    large = stats.minimum_detectable_effect(400, 400, 0.2)
    assert small is not None and large is not None and large < small


def test_arms_too_small_for_any_rate_to_be_detected_have_no_minimum_detectable_effect() -> None:
    # 3 and 3 at a holdout rate of 0.9: h = 2.801585 * sqrt(2/3) = 2.287; the largest possible h is
    # 2 asin(1) - 2 asin(sqrt(0.9)) = 0.6435: not even a treated rate of 1 would be detected
    assert stats.minimum_detectable_effect(3, 3, 0.9) is None


def test_an_empty_arm_or_an_unknown_holdout_rate_has_no_minimum_detectable_effect() -> None:
    assert stats.minimum_detectable_effect(0, 50, 0.3) is None
    assert stats.minimum_detectable_effect(50, 0, None) is None


def test_time_to_return_counts_a_unit_not_back_yet_as_at_risk_until_it_is_censored() -> None:
    # Five units: back on day 1, back on day 2, not back by day 2 (censored), back on day 3, not back by day 4.
    # Kaplan-Meier by hand: day 1: 5 at risk, 1 back: S = 4/5 = 0.8; day 2: 4 at risk, 1 back: S = 0.8 * 3/4 = 0.6
    # (the unit censored on day 2 is still at risk then); day 3: 2 at risk, 1 back: S = 0.6 * 1/2 = 0.3.
    # Counting the censored units as never back would give 3/5 returned, S = 0.4 at the end, instead of 0.3.
    curve = stats.survival([1, 2, 2, 3, 4], [True, True, False, True, False])
    assert curve.times == [1.0, 2.0, 3.0]
    assert curve.surviving == pytest.approx([0.8, 0.6, 0.3])
    assert curve.at_risk == [5, 4, 2]
    assert (curve.units, curve.events) == (5, 3)


def test_an_arm_where_nobody_is_back_yet_has_a_curve_without_steps() -> None:
    curve = stats.survival([0, 5], [False, False])
    assert (curve.times, curve.surviving, curve.units, curve.events) == ([], [], 2, 0)


def test_times_and_statuses_that_do_not_pair_up_or_run_backwards_are_refused() -> None:
    with pytest.raises(ValueError, match="3 times but 2 statuses"):
        stats.survival([1, 2, 3], [True, False])
    with pytest.raises(ValueError, match="negative"):
        stats.survival([-1], [True])
