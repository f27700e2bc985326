"""Experiment statistics on counts: intervals per arm, the difference against the holdout, the sample-ratio check.

Pure functions of counts (no database, no clock), each a call into statsmodels or scipy: nothing here is a formula
written by hand, so the numbers are those the libraries' own tests hold to the literature.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy.optimize import brentq
from scipy.stats import chisquare
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    test_proportions_2indep,
)

ALPHA = 0.05
SRM_ALPHA = 0.001  # below this the split is not what was configured: no verdict (design §3)
POWER = 0.8  # the minimum detectable effect is the one found with this probability


@dataclass(frozen=True)
class Proportion:
    successes: int
    units: int
    rate: float | None
    low: float | None  # Wilson score interval, 95 %
    high: float | None


@dataclass(frozen=True)
class Difference:
    """treated - holdout, with Newcombe's hybrid score interval (95 %) and the score test's p-value."""

    estimate: float
    low: float
    high: float
    p_value: float


@dataclass(frozen=True)
class SampleRatio:
    observed: dict[str, int]
    expected: dict[str, float]
    p_value: float | None  # None: no expected split known (no weights on the assignments)

    @property
    def mismatch(self) -> bool:
        return self.p_value is not None and self.p_value < SRM_ALPHA


def proportion(successes: int, units: int) -> Proportion:
    """The share with its Wilson interval; no units, no rate."""
    _check_counts(successes, units)
    if units == 0:
        return Proportion(successes, units, None, None, None)
    low, high = proportion_confint(successes, units, alpha=ALPHA, method="wilson")
    return Proportion(successes, units, successes / units, float(low), float(high))


def difference(treated: tuple[int, int], holdout: tuple[int, int]) -> Difference | None:
    """treated - holdout as (successes, units) each; None when an arm has no units."""
    (c1, n1), (c0, n0) = treated, holdout
    _check_counts(c1, n1)
    _check_counts(c0, n0)
    if n1 == 0 or n0 == 0:
        return None
    low, high = confint_proportions_2indep(c1, n1, c0, n0, method="newcomb", compare="diff", alpha=ALPHA)
    p_value = _score_p_value(c1, n1, c0, n0)
    return Difference(c1 / n1 - c0 / n0, float(low), float(high), p_value)


def _score_p_value(c1: int, n1: int, c0: int, n0: int) -> float:
    if (c1 == 0 and c0 == 0) or (c1 == n1 and c0 == n0):
        return 1.0  # no variation at all: the score statistic is 0/0, and there is nothing to test
    with warnings.catch_warnings():
        # the result also carries the ratio and odds ratio, which divide by zero when an arm has no success
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(test_proportions_2indep(c1, n1, c0, n0, method="score", compare="diff").pvalue)
    return 1.0 if math.isnan(p) else p


def sample_ratio(observed: Mapping[str, int], expected_share: Mapping[str, float]) -> SampleRatio:
    """Chi-squared of the units per arm against the configured split (expected shares of each arm, summing to the
    number of units: the sum over units of each one's own weight fraction). Arms named by either side take part."""
    arms = sorted(set(observed) | set(expected_share))
    f_obs = {a: int(observed.get(a, 0)) for a in arms}
    f_exp = {a: float(expected_share.get(a, 0.0)) for a in arms}
    total = sum(f_obs.values())
    if total == 0 or not expected_share or len(arms) < 2:
        return SampleRatio(f_obs, f_exp, None)
    if any(f_exp[a] <= 0 and f_obs[a] > 0 for a in arms):
        return SampleRatio(f_obs, f_exp, 0.0)  # units in an arm the split never draws: as far off as can be
    live = [a for a in arms if f_exp[a] > 0]
    if len(live) < 2:
        return SampleRatio(f_obs, f_exp, None)
    scale = total / sum(f_exp[a] for a in live)  # chisquare wants equal sums; rounding in the shares differs
    result = chisquare([f_obs[a] for a in live], [f_exp[a] * scale for a in live])
    return SampleRatio(f_obs, f_exp, float(result.pvalue))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of several comparisons' p-values (arms x journeys of one experiment)."""
    if not p_values:
        return []
    _, adjusted, _, _ = multipletests(list(p_values), alpha=ALPHA, method="holm")
    return [float(p) for p in adjusted]


def _check_counts(successes: int, units: int) -> None:
    if units < 0 or successes < 0 or successes > units:
        raise ValueError(f"counts must satisfy 0 <= successes <= units, got {successes} of {units}")


def verdict(diff: Difference | None, adjusted_p: float | None, srm: SampleRatio) -> str | None:
    """What a comparison says, or None when nothing may be said: the split is off (SRM) or an arm is empty."""
    if srm.mismatch or diff is None or adjusted_p is None:
        return None
    if adjusted_p >= ALPHA:
        return "no detectable difference"
    return "treated higher" if diff.estimate > 0 else "treated lower"


def minimum_detectable_effect(treated_units: int, holdout_units: int, holdout_rate: float | None) -> float | None:
    """The smallest rise over the holdout's rate that arms of these sizes detect with 80 % power at alpha 0.05
    (two-sided): Cohen's h from statsmodels' NormalIndPower, turned back into a difference of proportions by solving
    proportion_effectsize(p, holdout_rate) = h for p. None when an arm is empty, the holdout's rate is unknown, or no
    rate up to 1 is far enough from it."""
    if treated_units <= 0 or holdout_units <= 0 or holdout_rate is None or not 0.0 <= holdout_rate <= 1.0:
        return None
    h = float(
        NormalIndPower().solve_power(
            effect_size=None, nobs1=treated_units, alpha=ALPHA, power=POWER, ratio=holdout_units / treated_units
        )
    )

    def gap(p: float) -> float:
        return float(proportion_effectsize(p, holdout_rate)) - h

    if gap(1.0) < 0:
        return None  # even a rate of 1 in the treated arm would go unnoticed
    return float(brentq(gap, holdout_rate, 1.0, xtol=1e-12)) - holdout_rate


@dataclass(frozen=True)
class Survival:
    """Kaplan-Meier estimate of the share not yet returned: at each time with an event, the share still waiting."""

    times: list[float]
    surviving: list[float]
    at_risk: list[int]
    units: int
    events: int


def survival(times: Sequence[float], returned: Sequence[bool]) -> Survival:
    """Time to return with right-censoring (statsmodels' SurvfuncRight): a unit that has not returned by the end of
    its observation counts as at risk up to its time and is then censored, never a non-return."""
    if len(times) != len(returned):
        raise ValueError(f"{len(times)} times but {len(returned)} statuses")
    if any(t < 0 for t in times):
        raise ValueError("a time to return cannot be negative")
    if not times:
        return Survival([], [], [], 0, 0)
    fit = SurvfuncRight(list(times), [int(r) for r in returned])
    return Survival(
        [float(t) for t in fit.surv_times],
        [float(p) for p in fit.surv_prob],
        [int(n) for n in fit.n_risk],
        len(times),
        sum(bool(r) for r in returned),
    )
