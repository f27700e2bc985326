"""`careloop report experiment --curve`: time to return per arm, with right-censoring (Kaplan-Meier, statsmodels'
SurvfuncRight), drawn as the share of each arm's units returned by each day since their entry. Over the report's
units (experiment_units.sql: the same experiment, journey, period and population), eligible ones only; a unit not
back yet is censored at as_of, never counted as gone."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import datetime
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from psycopg import Connection, sql

from engine.reports import stats
from engine.reports.base import Query
from engine.reports.catalog import EXPERIMENT
from engine.reports.charts import DPI, SIZE
from engine.reports.run import as_of, rows


def curves(conn: Connection[Any], query: Query) -> dict[str, stats.Survival]:
    """One curve per experiment, journey and arm, named "experiment / journey / arm"."""
    moment = as_of(conn, query.as_of)
    _, units = rows(conn, sql.SQL(EXPERIMENT.units()), query.params(EXPERIMENT, moment))
    times: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    for u in units:
        if u["ineligible"]:
            continue
        returned = u["return_days"] is not None
        times[name(u)].append((u["return_days"] if returned else u["observed_days"], returned))
    return {k: stats.survival([t for t, _ in v], [r for _, r in v]) for k, v in sorted(times.items())}


def name(unit: dict[str, Any]) -> str:
    experiment, journey = str(unit["experiment_id"]), str(unit["journey"])
    # a split's experiment is named by its journey already (journey/step@salt)
    parts = [experiment] if experiment.startswith(f"{journey}/") else [experiment, journey]
    return " / ".join([*parts, str(unit["arm"])])


def png(found: dict[str, stats.Survival], moment: datetime) -> bytes:
    """The same bytes for the same curves: fixed size and resolution, no software or date metadata."""
    fig = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, curve in found.items():
        # 1 - S(t): the share returned, a step at each day with a return, from 0 at the entry
        xs = [0.0, *curve.times]
        ys = [0.0, *(1.0 - s for s in curve.surviving)]
        ax.step(xs, ys, where="post", label=f"{label} (n={curve.units}, returned {curve.events})")
    ax.set_xlabel("days since the journey's entry")
    ax.set_ylabel("share returned (Kaplan-Meier)")
    ax.set_ylim(0.0, 1.0)
    ax.set_title(f"Time to return by arm (experiment.v1, as of {moment.date().isoformat()})", fontsize=10)
    if found:
        ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
