"""Running a report: the moment it is as of, its SQL with the breakdown composed in, plain Python values back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row

from engine.reports.base import Query, Report, Table

AS_OF = "SELECT coalesce(%(as_of)s::timestamptz, (SELECT as_of FROM analytics.as_of)) AS as_of"


def as_of(conn: Connection[Any], asked: datetime | None) -> datetime:
    """--as-of, else analytics.as_of (the deployment's clock: the demo's virtual now, else now())."""
    row = conn.execute(AS_OF, {"as_of": asked}).fetchone()
    if row is None or row[0] is None:
        raise RuntimeError("analytics.as_of gave no moment: run `careloop roles apply` to create the views")
    moment: datetime = row[0]
    return moment


def rows(conn: Connection[Any], statement: Any, params: dict[str, Any]) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(statement, params)
        columns = tuple(c.name for c in cur.description or ())
        return columns, [{k: plain(v) for k, v in r.items()} for r in cur.fetchall()]


def run(conn: Connection[Any], report: Report, query: Query) -> Table:
    moment = as_of(conn, query.as_of)
    columns, found = rows(conn, report.statement(query.by), query.params(report, moment))
    order = [*report.keys, *query.by]
    if report.name == "cohorts":
        order.append("month_offset")
    found.sort(key=lambda r: tuple(_sortable(r.get(c)) for c in order))
    return Table(report.name, report.definition, moment, query.by, columns, found)


def plain(value: Any) -> Any:
    """numeric -> float (a rate), so every output format writes numbers the same way."""
    return float(value) if isinstance(value, Decimal) else value


def _sortable(value: Any) -> tuple[bool, Any]:
    return (value is None, "" if value is None else value)
