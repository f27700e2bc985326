"""A report is one SQL file over the analytics views, the dimensions its units carry and how its result is drawn;
a query is what one run asks of it (breakdown, period, the moment it is as of, the report's own options)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import Any

from psycopg import sql

from engine.reports import dims as d

COMMON = frozenset({"department", "month", "age_band", "sex"})


@dataclass(frozen=True)
class Chart:
    value: str  # the column drawn as bars
    low: str | None = None  # its interval, drawn as error bars, when the report has one
    high: str | None = None
    title: str = ""
    stages: tuple[str, ...] = ()  # a funnel: one bar per stage column instead of one per row


@dataclass(frozen=True)
class Report:
    name: str
    definition: str  # the versioned definition the numbers follow (docs/reports.md), e.g. revisit.v1
    dims: frozenset[str]
    measures: tuple[str, ...]  # the result's columns after the dimensions
    chart: Chart
    defaults: dict[str, Any] = field(default_factory=dict)  # every option the SQL names, with its default
    keys: tuple[str, ...] = ()  # columns that name a row besides the dimensions (cohort month, experiment, arm)

    def template(self) -> str:
        return _read(f"{self.name}.sql")

    def units(self) -> str:
        """The report's units, one row each, when it keeps them apart (sql/<name>_units.sql: the experiment's,
        which its curve reads too); included in the template as {units}."""
        path = resources.files("engine.reports").joinpath("sql", f"{self.name}_units.sql")
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def statement(self, by: tuple[str, ...]) -> sql.Composed:
        """The report's SQL with the breakdown's expressions composed in (never the user's text)."""
        parts = d.compose(by)
        return sql.SQL(self.template()).format(
            dims=parts.select,
            joins=parts.joins,
            group=parts.group,
            group_prefix=parts.group_prefix,
            names=parts.names,
            units=sql.SQL(self.units()),
        )


def _read(name: str) -> str:
    return resources.files("engine.reports").joinpath("sql", name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Query:
    by: tuple[str, ...] = ()
    start: date | None = None  # --from, on the anchor's local date, inclusive
    end: date | None = None  # --to, inclusive
    as_of: datetime | None = None  # default: analytics.as_of
    options: dict[str, Any] = field(default_factory=dict)  # the report's own (window, mode, ...): named SQL params

    def params(self, report: Report, as_of: datetime) -> dict[str, Any]:
        unknown = set(self.options) - set(report.defaults)
        if unknown:
            raise ValueError(f"the {report.name} report has no option {', '.join(sorted(unknown))}")
        return {**report.defaults, **self.options, "from": self.start, "to": self.end, "as_of": as_of}


@dataclass(frozen=True)
class Table:
    report: str
    definition: str
    as_of: datetime
    by: tuple[str, ...]
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)  # warnings and what the numbers leave out
    extra: dict[str, Any] = field(default_factory=dict)  # report-specific parts of the JSON (an experiment's SRM)
