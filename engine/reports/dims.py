"""What a report may be broken down by (--by): a fixed map from a dimension's name to its SQL, composed into the
report's query with psycopg.sql. The user's text only ever picks a key of this map; it never reaches the SQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True)
class Dim:
    name: str
    expression: sql.Composable  # over the report's units, aliased u
    join: sql.Composable | None = None  # what the expression needs besides u
    help: str = ""


# u is one report's units; each report says which of these its units carry (Report.dims)
DIMS: dict[str, Dim] = {
    d.name: d
    for d in (
        Dim("department", sql.SQL("u.department"), help="the department of the anchor (visit, discharge, entry)"),
        Dim(
            "diagnosis",
            sql.SQL("dx.diagnosis"),
            sql.SQL("LEFT JOIN LATERAL unnest(u.diagnosis_groups) AS dx(diagnosis) ON true"),
            "each diagnosis group of the anchor (a unit in two groups counts in both; none: empty)",
        ),
        Dim("month", sql.SQL("to_char(u.anchor_date, 'YYYY-MM')"), help="the anchor's month, hospital time"),
        Dim("journey", sql.SQL("u.journey"), help="the journey"),
        Dim(
            "version",
            sql.SQL("u.version"),
            help="the journey version, as <journey>@v<N>: the one the asking message was decided under "
            "(satisfaction), else the one the instance started on (funnel, cohorts); empty: no journey",
        ),
        Dim("arm", sql.SQL("u.arm"), help="the experiment arm"),
        Dim(
            "tier",
            sql.SQL("tp.tier"),
            # every report's units carry patient_key; the tier is the patient's today (patient_profiles keeps no
            # history of it), empty when never given
            sql.SQL("LEFT JOIN analytics.patients tp ON tp.patient_key = u.patient_key"),
            "the patient's membership tier (today's; empty: none given)",
        ),
        Dim("age_band", sql.SQL("u.age_band"), help="ten-year age band"),
        Dim("sex", sql.SQL("u.sex"), help="sex"),
    )
}


class UnknownDimError(ValueError):
    def __init__(self, report: str, name: str, allowed: Iterable[str]) -> None:
        super().__init__(f"--by {name!r}: the {report} report can be broken down by {', '.join(sorted(allowed))}")


def parse_by(report: str, text: str | None, allowed: frozenset[str]) -> tuple[str, ...]:
    """--by department,month -> ("department", "month"), each checked against the report's dimensions."""
    names = tuple(n.strip() for n in (text or "").split(",") if n.strip())
    for n in names:
        if n not in allowed:
            raise UnknownDimError(report, n, allowed)
    if len(set(names)) != len(names):
        raise ValueError(f"--by {text!r}: a dimension is named twice")
    return names


@dataclass(frozen=True)
class Composed:
    select: sql.Composable  # "expr AS name, " for each dimension (empty when none)
    joins: sql.Composable
    group: sql.Composable  # the GROUP BY list; "()" (one group) when none
    group_prefix: sql.Composable  # "expr, " for each dimension, for a GROUP BY that goes on with the report's own
    names: sql.Composable  # "name, " for each dimension: an outer query's select list over the inner one's columns


def compose(names: tuple[str, ...]) -> Composed:
    dims = [DIMS[n] for n in names]
    select = sql.SQL("").join(sql.SQL("{} AS {}, ").format(d.expression, sql.Identifier(d.name)) for d in dims)
    joins = sql.SQL(" ").join(d.join for d in dims if d.join is not None)
    group = sql.SQL(", ").join(d.expression for d in dims) if dims else sql.SQL("()")
    prefix = sql.SQL("").join(sql.SQL("{}, ").format(d.expression) for d in dims)
    outer = sql.SQL("").join(sql.SQL("{}, ").format(sql.Identifier(d.name)) for d in dims)
    return Composed(select, joins, group, prefix, outer)
