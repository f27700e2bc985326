"""Every PostgreSQL query of the provisioned dashboards (deploy/grafana/dashboards), run as Grafana runs it when a
dashboard opens: its macros expanded for the dashboard's time range (a closed set: any other macro fails), its
variables at their current values, under an analyst's login (careloop_analyst: the analytics schema and nothing
else) with a statement timeout. The database is the outcome reports' (tests/integration/outcomes_db.py): the
synthetic hospital recorded into the journey store and followed by the projection runner, the analytics views
applied, the journeys deployed and the clock pinned at the hospital's "now".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
import pytest

from engine.embedded import EmbeddedPostgres
from engine.reports.base import Query
from engine.reports.catalog import REPORTS
from engine.reports.run import run
from tests.integration.outcomes_db import Params, outcomes_db
from tests.unit.deploy import grafana

pytestmark = pytest.mark.integration

PARAMS = Params()  # the reports' hospital: 300 patients over half a year
RANGE = (PARAMS.now - timedelta(days=365), PARAMS.now)  # the dashboards' default range, now-1y to now
TIMEOUT = "5s"
TARGETS = [
    target
    for path in grafana.dashboard_files()
    for target in grafana.targets(path)
    if target.datasource_uid == grafana.POSTGRES_UID
]
VARIABLES = {path.name: grafana.variables(grafana.load(path)) for path in grafana.dashboard_files()}


@dataclass(frozen=True)
class Answer:
    columns: dict[str, int]  # name -> PostgreSQL type oid
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class AnalystDatabase:
    analyst_url: str

    def run(self, query: str) -> Answer:
        """``query`` as the analyst, in UTC like Grafana's sessions, stopped after TIMEOUT."""
        options = f"-c TimeZone=UTC -c statement_timeout={TIMEOUT}"
        with psycopg.connect(self.analyst_url, autocommit=True, options=options) as conn:
            cursor = conn.execute(query.encode())
            assert cursor.description is not None
            return Answer({c.name: c.type_code for c in cursor.description}, cursor.fetchall())


@pytest.fixture(scope="module")
def hospital(postgres: EmbeddedPostgres) -> Iterator[AnalystDatabase]:
    with outcomes_db(postgres.url, PARAMS) as db:
        yield AnalystDatabase(db.analyst_url)


def expanded(target: grafana.Target) -> str:
    return grafana.expand_sql(target.body["rawSql"], VARIABLES[target.dashboard], *RANGE)


TIME_TYPES = {"timestamptz", "timestamp", "date", "numeric", "float8", "int8", "int4"}
NUMBER_TYPES = {"numeric", "float8", "float4", "int8", "int4", "int2"}


def type_names(conn_url: str, oids: set[int]) -> dict[int, str]:
    with psycopg.connect(conn_url) as conn:
        return dict(conn.execute("SELECT oid::int, typname FROM pg_type WHERE oid = ANY(%s)", (list(oids),)).fetchall())


# --- tests --------------------------------------------------------------------------------------------------------


def test_the_dashboards_have_postgresql_queries_to_check() -> None:
    assert {t.dashboard for t in TARGETS} == {"outcomes.json"}
    assert len(TARGETS) >= 6


def test_the_analyst_reads_the_analytics_views_and_no_table(hospital: AnalystDatabase) -> None:
    assert hospital.run("SELECT count(*) FROM analytics.visits").rows[0][0] > 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        hospital.run("SELECT count(*) FROM encounters")


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.dashboard}:{t.panel_id}")
def test_the_panels_query_runs_as_an_analyst_and_returns_what_the_panel_shows(
    hospital: AnalystDatabase, target: grafana.Target
) -> None:
    answer = hospital.run(expanded(target))

    assert answer.rows, f"{target.where}: no rows on the hospital's half year"
    types = type_names(hospital.analyst_url, set(answer.columns.values()))
    kinds = {name: types[oid] for name, oid in answer.columns.items()}
    if target.body["format"] == "time_series":
        assert kinds.get("time") in TIME_TYPES, f"{target.where}: a time series needs a time column ({kinds})"
        values = {n for n, kind in kinds.items() if n not in ("time", "metric") and kind in NUMBER_TYPES}
        assert values, f"{target.where}: no numeric value column ({kinds})"
        assert kinds.get("metric", "text") == "text", f"{target.where}: metric names a series: text"
    else:
        shown = set(renamed(target))
        assert shown <= set(kinds), f"{target.where}: columns the panel renames are missing: {shown - set(kinds)}"


def test_rates_are_percentages(hospital: AnalystDatabase) -> None:
    for target in TARGETS:
        answer = hospital.run(expanded(target))
        for name in answer.columns:
            if name.endswith("(%)") or name.endswith("_pct"):
                i = list(answer.columns).index(name)
                rates = [row[i] for row in answer.rows if row[i] is not None]
                assert all(Decimal(0) <= r <= Decimal(100) for r in rates), f"{target.where}: {name} {rates}"


def renamed(target: grafana.Target) -> list[str]:
    panel = next(
        p for p in grafana.panels(grafana.load(grafana.DASHBOARDS / target.dashboard)) if p.get("id") == target.panel_id
    )
    return [
        column
        for step in panel.get("transformations", [])
        if step.get("id") == "organize"
        for column in step["options"].get("renameByName", {})
    ]


# --- the panels that share a definition with a report give its numbers ------------------------------------------

# panel title -> the report, its --by, the columns naming a row (panel's: report's), the counts (panel's: report's)
AGREEING: dict[str, tuple[str, tuple[str, ...], dict[str, str], dict[str, str]]] = {
    "Revisit within $window days, by department": (
        "revisit",
        ("department",),
        {"department": "department"},
        {"index_visits": "indexes", "returned": "returned"},
    ),
    "Follow-up by department": (
        "followup",
        ("department",),
        {"department": "department"},
        {c: c for c in ("episodes", "within_7d", "within_30d", "excluded", "open")},
    ),
    "Funnel by journey (funnel.v1)": (
        "funnel",
        ("journey",),
        {"journey_id": "journey"},
        {c: c for c in ("entered", "requested", "approved", "sent", "delivered", "read", "replied", "revisited")},
    ),
    "Experiment arms: revisit within $window days (experiment.v1)": (
        "experiment",
        (),
        {"experiment_id": "experiment", "journey": "journey", "arm": "arm", "holdout": "holdout"},
        {"patients": "patients", "returned": "successes", "open": "open"},
    ),
}


def test_every_panel_said_to_agree_with_a_report_is_on_the_dashboards() -> None:
    assert set(AGREEING) <= {t.panel_title for t in TARGETS}


@pytest.mark.parametrize("title", sorted(AGREEING))
def test_the_panel_gives_the_numbers_of_the_report_with_the_same_definition(
    hospital: AnalystDatabase, title: str
) -> None:
    name, by, keys, counts = AGREEING[title]
    target = next(t for t in TARGETS if t.panel_title == title)
    window = int(VARIABLES[target.dashboard]["window"])
    panel = hospital.run(expanded(target))
    at = list(panel.columns)
    shown = {tuple(row[at.index(k)] for k in keys): {c: row[at.index(c)] for c in counts} for row in panel.rows}

    report = REPORTS[name]
    options = {"window": window} if "window" in report.defaults else {}
    with psycopg.connect(hospital.analyst_url, autocommit=True, options="-c TimeZone=UTC") as conn:
        table = run(conn, report, Query(by=by, options=options))
    # a department whose index visits are all still open has a report row of zeros (and "open") and no panel row
    reported = {
        tuple(row[k] for k in keys.values()): {c: row[r] for c, r in counts.items()}
        for row in table.rows
        if any(row[r] for r in counts.values())
    }

    assert shown == reported


# time-series panel title -> the report, each series (panel column) as (successes, units) of the report by month
MONTHLY = {
    "Revisit within $window days, by month of the index visit": (
        "revisit",
        {"returned within $window days (%)": ("returned", "indexes")},
    ),
    "Followed up within 7 and 30 days, by month of discharge": (
        "followup",
        {"within 7 days (%)": ("within_7d", "episodes"), "within 30 days (%)": ("within_30d", "episodes")},
    ),
}


@pytest.mark.parametrize("title", sorted(MONTHLY))
def test_the_monthly_rates_are_the_reports_by_month(hospital: AnalystDatabase, title: str) -> None:
    name, series = MONTHLY[title]
    target = next(t for t in TARGETS if t.panel_title == title)
    panel = hospital.run(expanded(target))
    at = list(panel.columns)
    column = {s: s.replace("$window", VARIABLES[target.dashboard]["window"]) for s in series}
    shown = {row[0].strftime("%Y-%m"): {s: row[at.index(column[s])] for s in series} for row in panel.rows}

    with psycopg.connect(hospital.analyst_url, autocommit=True, options="-c TimeZone=UTC") as conn:
        table = run(conn, REPORTS[name], Query(by=("month",)))
    reported = {
        row["month"]: {s: percent(row[hits], row[units]) for s, (hits, units) in series.items()}
        for row in table.rows
        if row[next(iter(series.values()))[1]]  # a month whose units are all still open has no point
    }

    assert shown == reported


def percent(hits: int, units: int) -> Decimal:
    """As the panel's round(100.0 * hits / units, 1): PostgreSQL rounds numeric halves away from zero."""
    return (Decimal(100 * hits) / units).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
