"""Monte-Carlo checks of the experiment statistics on a Bernoulli model with a known truth: the 95 % interval of
treated - holdout covers the true difference about 95 % of the time, the sample-ratio check rarely fires on a
split drawn as configured, and it fires on a split planted unequal. numpy's generator, fixed seeds: the same draws
on every run (the seeds were fixed before looking at the results)."""

from __future__ import annotations

import numpy as np

from engine.reports import stats

REPLICATIONS = 400


def test_the_difference_interval_covers_the_true_effect_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(20261205)
    p_treated, p_holdout, n_treated, n_holdout = 0.70, 0.40, 240, 60
    covered = 0
    for _ in range(REPLICATIONS):
        c1 = int(rng.binomial(n_treated, p_treated))
        c0 = int(rng.binomial(n_holdout, p_holdout))
        diff = stats.difference((c1, n_treated), (c0, n_holdout))
        assert diff is not None
        covered += diff.low <= p_treated - p_holdout <= diff.high
    assert 0.92 <= covered / REPLICATIONS <= 0.98


def test_a_null_effect_is_called_a_difference_about_5_percent_of_the_time_at_most() -> None:
    rng = np.random.default_rng(1998)
    found = 0
    for _ in range(REPLICATIONS):
        c1, c0 = int(rng.binomial(300, 0.5)), int(rng.binomial(100, 0.5))
        diff = stats.difference((c1, 300), (c0, 100))
        assert diff is not None
        found += diff.p_value < 0.05
    assert found / REPLICATIONS <= 0.08


def test_the_sample_ratio_check_seldom_fires_on_a_split_drawn_as_configured() -> None:
    rng = np.random.default_rng(80_20)
    alarms = 0
    for _ in range(REPLICATIONS * 5):
        holdout = int(rng.binomial(1000, 0.2))
        srm = stats.sample_ratio({"treated": 1000 - holdout, "holdout": holdout}, {"treated": 800.0, "holdout": 200.0})
        alarms += srm.mismatch
    assert alarms / (REPLICATIONS * 5) < 0.005


def test_the_sample_ratio_check_fires_on_an_80_20_split_drawn_70_30() -> None:
    rng = np.random.default_rng(70_30)
    fired = 0
    for _ in range(REPLICATIONS):
        holdout = int(rng.binomial(1000, 0.3))
        srm = stats.sample_ratio({"treated": 1000 - holdout, "holdout": holdout}, {"treated": 800.0, "holdout": 200.0})
        fired += srm.mismatch
    assert fired == REPLICATIONS
