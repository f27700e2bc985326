"""The statistics of check-in series (engine/journeys/trends.py): a rising trend, a mean above a threshold, missed
check-ins. The expected p values are the exact Mann-Kendall null distribution (no ties: every one of the n! orders
equally likely), counted here by hand, not read back from scipy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise, permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.journeys import trends
from engine.journeys.trends import Point

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def daily(*values: float, start: datetime = T0) -> list[Point]:
    return [Point(start + timedelta(days=k), float(v), f"response-{k}") for k, v in enumerate(values)]


def exact_p_rising(n: int) -> float:
    """P(S >= S_max) under the null for n values in strictly increasing order: of the n! orders, only the
    increasing one has the largest S."""
    orders = list(permutations(range(n)))
    top = sum(1 for o in orders if all(a < b for a, b in pairwise(o)))
    return top / len(orders)


def test_a_strictly_rising_series_of_five_alerts_with_its_exact_p_value_and_slope():
    found = trends.rising(daily(1, 2, 3, 4, 5), last=5, alpha=0.05, min_slope=0.5)

    assert found is not None
    assert found.kind == "rising"
    assert found.statistic == {"tau": 1.0, "p_value": round(exact_p_rising(5), 6), "sen_slope_per_day": 1.0}
    assert [p.value for p in found.values] == [1, 2, 3, 4, 5]
    assert found.threshold == {"last": 5, "alpha": 0.05, "min_slope": 0.5}


def test_the_design_example_rises_with_ties_by_the_normal_approximation():
    found = trends.rising(daily(3, 4, 4, 6, 7), last=5, alpha=0.05, min_slope=0.5)

    assert found is not None
    assert found.statistic["tau"] == pytest.approx(0.948683, abs=1e-6)  # S = 9 of sqrt(10 * 9) with one tie
    assert 0.01 < found.statistic["p_value"] < 0.02
    assert found.statistic["sen_slope_per_day"] == 1.0  # the median of the ten pairwise slopes
    assert "Mann-Kendall tau 0.95" in found.reason and "Theil-Sen +1.00/day" in found.reason


def test_a_flat_series_never_alerts():
    assert trends.rising(daily(5, 5, 5, 5, 5, 5), last=5, alpha=0.05, min_slope=0) is None
    assert trends.trend(daily(5, 5, 5, 5, 5)) is None


def test_a_noisy_flat_series_without_a_monotonic_trend_does_not_alert():
    assert trends.rising(daily(5, 3, 6, 4, 5, 3, 6), last=7, alpha=0.05, min_slope=0) is None


def test_a_window_shorter_than_last_does_not_alert():
    assert trends.rising(daily(1, 2, 3, 4), last=5, alpha=0.05, min_slope=0) is None


def test_only_the_last_values_are_tested():
    # Falling, then rising over the last five: the rise alone is judged.
    assert trends.rising(daily(9, 8, 7, 6, 2, 3, 4, 5, 6), last=5, alpha=0.05, min_slope=0.5) is not None
    assert trends.rising(daily(2, 3, 4, 5, 6, 5, 4, 3, 2), last=5, alpha=0.05, min_slope=0) is None


def test_a_significant_rise_too_shallow_for_min_slope_does_not_alert():
    values = daily(1.0, 1.1, 1.2, 1.3, 1.4)
    assert trends.rising(values, last=5, alpha=0.05, min_slope=0.5) is None
    assert trends.rising(values, last=5, alpha=0.05, min_slope=0.1) is not None


def test_the_slope_is_per_day_for_a_weekly_diary():
    weekly = [Point(T0 + timedelta(days=7 * k), float(v), f"r{k}") for k, v in enumerate((1, 2, 3, 4, 5))]
    found = trends.rising(weekly, last=5, alpha=0.05, min_slope=0.1)
    assert found is not None
    assert found.statistic["sen_slope_per_day"] == round(1 / 7, 6)
    assert trends.rising(weekly, last=5, alpha=0.05, min_slope=0.5) is None


def test_last_below_four_is_refused():
    with pytest.raises(ValueError, match="last >= 4"):
        trends.rising(daily(1, 2, 3), last=3, alpha=0.05, min_slope=0)


def test_a_mean_above_the_value_over_the_window_alerts_with_its_values():
    now = T0 + timedelta(days=4)
    # The 2 was recorded exactly four days before now: outside a window of four days, which ends at now.
    found = trends.mean_above(daily(2, 8, 7, 9, 8), now, timedelta(days=4), 7, 4)

    assert found is not None
    assert [p.value for p in found.values] == [8, 7, 9, 8]
    assert found.statistic == {"mean": 8.0, "count": 4, "within_days": 4.0}


def test_a_mean_equal_to_the_value_or_with_too_few_values_does_not_alert():
    now = T0 + timedelta(days=3)
    assert trends.mean_above(daily(7, 7, 7, 7), now, timedelta(days=7), 7, 4) is None
    assert trends.mean_above(daily(9, 9, 9), now, timedelta(days=7), 7, 4) is None


def test_missing_alerts_from_the_count_in_a_row():
    assert trends.missing(2, 3) is None
    found = trends.missing(3, 3)
    assert found is not None and found.statistic == {"missed_in_a_row": 3} and found.values == ()


values_strategy = st.lists(st.integers(min_value=0, max_value=10), min_size=5, max_size=12)


@settings(max_examples=150, deadline=None)
@given(values_strategy, st.integers(min_value=-20, max_value=20), st.integers(min_value=1, max_value=9))
def test_a_constant_added_or_a_positive_factor_never_changes_the_decision(values, shift, factor):
    last = len(values)
    base = trends.rising(daily(*values), last=last, alpha=0.05, min_slope=0)
    shifted = trends.rising(daily(*(v + shift for v in values)), last=last, alpha=0.05, min_slope=0)
    scaled = trends.rising(daily(*(v * factor for v in values)), last=last, alpha=0.05, min_slope=0)

    assert (base is None) == (shifted is None) == (scaled is None)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=-50, max_value=50, allow_nan=False), min_size=5, max_size=15, unique=True))
def test_a_strictly_increasing_series_of_five_or_more_rises_and_its_reverse_never(values):
    up = sorted(values)
    assert trends.rising(daily(*up), last=len(up), alpha=0.05, min_slope=0) is not None
    assert trends.rising(daily(*reversed(up)), last=len(up), alpha=0.05, min_slope=0) is None


@settings(max_examples=100, deadline=None)
@given(values_strategy)
def test_the_recorded_statistic_equals_the_one_recomputed_from_its_values(values):
    found = trends.rising(daily(*values), last=5, alpha=0.2, min_slope=0)
    if found is not None:
        recomputed = trends.trend(found.values)
        assert recomputed == found.statistic
        assert recomputed["p_value"] < 0.2
