"""Conditions over a window of check-in values: a rising trend, a mean above a threshold, missed check-ins. Pure.

The only module that computes a statistic over check-ins (design §4):

- **rising**: the Mann-Kendall trend test, which is Kendall's tau between time and value
  (``scipy.stats.kendalltau(days, values, alternative="greater")``: exact without ties, the normal approximation
  with the tie correction otherwise), over the last ``last`` values, p below ``alpha``; and the Theil-Sen slope
  (``scipy.stats.theilslopes``, the median of the pairwise slopes) at least ``min_slope`` per day. Not least
  squares: 0-10 ratings are ordinal and tied, and one outlier moves an ordinary regression line.
  (Mann HB. Nonparametric tests against trend. Econometrica 1945;13:245-259. Kendall MG. Rank correlation methods,
  1975. Sen PK. Estimates of the regression coefficient based on Kendall's tau. JASA 1968;63:1379-1389.)
  A constant series has no tau: it is never a trend.
- **mean above**: ``statistics.fmean`` of the values recorded within a window, when there are at least
  ``at_least`` of them.
- **missing**: asks left unanswered in a row.

Every statistic is rounded to 6 decimals before it is compared and recorded, so the recorded event reproduces the
decision exactly when recomputed from its values.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

DECIMALS = 6
MIN_RISING_VALUES = 4  # below four points no one-sided tau reaches p < 0.05 (4 rising points: p = 1/24)

Kind = Literal["rising", "mean_above", "missing"]
Statistic = dict[str, float | int]


@dataclass(frozen=True, slots=True)
class Point:
    """One recorded check-in value: when it was answered, the value, the response event that carried it."""

    at: datetime
    value: float
    response_id: str


@dataclass(frozen=True, slots=True)
class Finding:
    """A condition that held: the values that caused it, its statistic, the threshold it crossed, and why."""

    kind: Kind
    values: tuple[Point, ...]
    statistic: Statistic
    threshold: Statistic
    reason: str


def _round(x: float) -> float:
    return round(float(x), DECIMALS)


def days_since_first(points: Sequence[Point]) -> list[float]:
    """Each point's time in days after the first one: the x of the trend (asks may be daily or weekly)."""
    first = points[0].at
    return [(p.at - first) / timedelta(days=1) for p in points]


def trend(points: Sequence[Point]) -> Statistic | None:
    """Mann-Kendall tau and one-sided p, and the Theil-Sen slope per day, of the points in order; None when there
    is no trend to speak of (fewer than two distinct values or times: tau is undefined)."""
    if len(points) < 2:
        return None
    # Imported here, not at the top: scipy.stats takes about half a second to import, and only journeys with a
    # check-in step ever reach this (the CLI, connectors and projections import the journey core too).
    from scipy.stats import kendalltau, theilslopes  # noqa: PLC0415

    days = days_since_first(points)
    values = [p.value for p in points]
    tested = kendalltau(days, values, alternative="greater")
    tau, p_value = float(tested.statistic), float(tested.pvalue)
    if math.isnan(tau) or math.isnan(p_value):
        return None
    slope = float(theilslopes(values, days).slope)
    return {"tau": _round(tau), "p_value": _round(p_value), "sen_slope_per_day": _round(slope)}


def rising(points: Sequence[Point], last: int, alpha: float, min_slope: float) -> Finding | None:
    """The last ``last`` points rise: Mann-Kendall p < alpha and Theil-Sen slope >= min_slope per day."""
    if last < MIN_RISING_VALUES:
        raise ValueError(f"rising needs last >= {MIN_RISING_VALUES}, got {last}")
    if len(points) < last:
        return None
    window = tuple(points[-last:])
    stat = trend(window)
    if stat is None or not (stat["p_value"] < alpha and stat["sen_slope_per_day"] >= min_slope):
        return None
    threshold: Statistic = {"last": last, "alpha": alpha, "min_slope": min_slope}
    reason = (
        f"rising over the last {last} values: Mann-Kendall tau {stat['tau']:.2f}, one-sided p {stat['p_value']:.3f}"
        f" < {alpha}; Theil-Sen {stat['sen_slope_per_day']:+.2f}/day >= {min_slope:+.2f}"
    )
    return Finding("rising", window, stat, threshold, reason)


def mean_above(
    points: Sequence[Point], now: datetime, within: timedelta, value: float, at_least: int
) -> Finding | None:
    """The mean of the values recorded in (now - within, now] exceeds ``value``, over at least ``at_least`` of them."""
    window = tuple(p for p in points if now - within < p.at <= now)
    if len(window) < max(at_least, 1):
        return None
    mean = _round(statistics.fmean(p.value for p in window))
    if not mean > value:
        return None
    stat: Statistic = {"mean": mean, "count": len(window), "within_days": _round(within / timedelta(days=1))}
    threshold: Statistic = {"value": value, "at_least": at_least}
    reason = f"mean {mean:g} of {len(window)} values within {stat['within_days']:g} days is above {value:g}"
    return Finding("mean_above", window, stat, threshold, reason)


def missing(missed_in_a_row: int, in_a_row: int) -> Finding | None:
    """``in_a_row`` asks or more in a row went unanswered."""
    if in_a_row < 1:
        raise ValueError(f"missing needs in_a_row >= 1, got {in_a_row}")
    if missed_in_a_row < in_a_row:
        return None
    reason = f"{missed_in_a_row} check-ins in a row not answered (alert at {in_a_row})"
    return Finding("missing", (), {"missed_in_a_row": missed_in_a_row}, {"in_a_row": in_a_row}, reason)
