"""`careloop report`: outcome reports over the analytics views (docs/reports.md), as a table, CSV, JSON or HTML, with
a PNG chart. Runs under the caller's login: an analyst's reads the analytics schema and nothing else, which is all a
report reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from engine.cli.consoles import consoles
from engine.cli.moments import parse_moment

report_app = typer.Typer(no_args_is_help=True, help="Outcome reports: revisits, follow-up, funnels, experiments.")
out, err = consoles()

ByOpt = Annotated[
    str | None, typer.Option("--by", help="Break down by these, comma-separated (department, month, sex, ...).")
]
FromOpt = Annotated[str | None, typer.Option("--from", help="First anchor date (hospital time), e.g. 2026-01-01.")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last anchor date, inclusive.")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="The moment the report is as of (default analytics.as_of: the clock, else now)."),
]
FormatOpt = Annotated[str, typer.Option("--format", help="table, csv, json or html.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write the report here instead of standard output.")]
ChartOpt = Annotated[Path | None, typer.Option("--chart", help="Also draw the report's chart as a PNG here.")]
MinCellOpt = Annotated[
    int,
    typer.Option(
        "--min-cell", min=0, help="CSV and HTML for sharing: counts from 1 to N-1 shown as <N, with their row's rates."
    ),
]
JourneysOpt = Annotated[
    Path, typer.Option("--journeys", "-j", help="Journeys file (goals, time zone).", envvar="CARELOOP_JOURNEYS")
]
WindowOpt = Annotated[int, typer.Option("--window", min=1, max=3650, help="Days of the return window.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def _date(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"{option} {value!r}: expected an ISO date, e.g. 2026-03-01", 2) from exc


def _catalog(journeys: Path) -> Any:
    from engine.language.errors import JourneyFileError
    from engine.language.loader import load_catalog

    try:
        return load_catalog(journeys)
    except JourneyFileError as exc:
        raise _fail(f"{journeys} has errors (careloop validate {journeys}); no report was run") from exc


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _fail(f"{option} must be one of {', '.join(allowed)}, not {value!r}", 2)
    return value


def _machinery() -> Any:
    try:
        from engine.reports import charts, output, stats
    except ImportError as exc:
        raise _fail(
            f"careloop report needs the reports extra ({exc.name} is missing): pip install 'careloop[reports]'"
        ) from exc
    return charts, output, stats


@dataclass(frozen=True)
class Shared:
    """The options every report takes."""

    by: str | None
    start: str | None
    end: str | None
    as_of: str | None
    fmt: str
    out: Path | None
    chart: Path | None
    journeys: Path
    min_cell: int = 0


def _run(name: str, common: Shared, options: dict[str, Any], curve: Path | None = None) -> None:
    """Run one report with the shared options and its own (the experiment's: its curve of time to return)."""
    import psycopg

    charts, output, _ = _machinery()
    from engine.cli.access import connect_cli
    from engine.reports.base import Query
    from engine.reports.catalog import REPORTS
    from engine.reports.dims import parse_by
    from engine.reports.experiment import ReportRefusedError, run_experiment
    from engine.reports.run import run
    from engine.reports.suppress import suppress

    report = REPORTS[name]
    fmt = _choice("--format", common.fmt, output.FORMATS)
    try:
        by = parse_by(name, common.by, report.dims)
    except ValueError as exc:
        raise _fail(str(exc), 2) from exc
    query = Query(
        by,
        _date("--from", common.start),
        _date("--to", common.end),
        parse_moment("--as-of", common.as_of, ZoneInfo(_catalog(common.journeys).settings.hospital_timezone)),
        options,
    )
    try:
        with connect_cli() as conn:
            table = run_experiment(conn, query) if name == "experiment" else run(conn, report, query)
            if curve is not None:
                from engine.reports import curve as km

                curve.write_bytes(km.png(km.curves(conn, query), table.as_of))
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction, psycopg.errors.UndefinedColumn) as exc:
        raise _fail(f"the analytics views this report reads are missing or older: {_first_line(exc)}") from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise _fail(f"your login may not read the analytics views (careloop_analyst): {_first_line(exc)}") from exc
    except ReportRefusedError as exc:
        raise _fail(str(exc)) from exc
    if fmt in ("csv", "html"):
        table = suppress(table, common.min_cell)
    svg = charts.svg(table, report.chart) if fmt == "html" else None
    _write(output.render(table, fmt, svg), common.out)
    if common.chart is not None:
        common.chart.write_bytes(charts.png(table, report.chart))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def _write(text: str, path: Path | None) -> None:
    if path is None:
        out.print(text, markup=False, end="")
    else:
        path.write_text(text, encoding="utf-8")


@report_app.command()
def revisit(
    window: WindowOpt = 30,
    mode: Annotated[str, typer.Option(help="within (an N-day revisit) or on-or-after (rolling retention).")] = "within",
    same_department: Annotated[bool, typer.Option(help="Only a return to the index visit's department.")] = False,
    unit: Annotated[str, typer.Option(help="episodes (index visits) or patients (their first index).")] = "episodes",
    by: ByOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = "table",
    out_path: OutOpt = None,
    chart: ChartOpt = None,
    min_cell: MinCellOpt = 0,
    journeys: JourneysOpt = Path("journeys.yaml"),
) -> None:
    """Revisit rate (revisit.v1): index visits followed by a return visit within (or on or after) N days."""
    options = {
        "window": window,
        "mode": _choice("--mode", mode, ("within", "on-or-after")),
        "same_department": same_department,
        "patients": _choice("--unit", unit, ("episodes", "patients")) == "patients",
    }
    _run(
        "revisit",
        Shared(by, start, end, as_of, fmt, out_path, chart, journeys, min_cell),
        options,
    )


@report_app.command()
def followup(
    measure: Annotated[
        str, typer.Option(help="fuh (a visit) or nhc (any contact: visit, reached call, reply).")
    ] = "fuh",
    by: ByOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = "table",
    out_path: OutOpt = None,
    chart: ChartOpt = None,
    min_cell: MinCellOpt = 0,
    journeys: JourneysOpt = Path("journeys.yaml"),
) -> None:
    """Follow-up after discharge within 7 and 30 days (followup.v1)."""
    options = {"measure": _choice("--measure", measure, ("fuh", "nhc"))}
    _run(
        "followup",
        Shared(by, start, end, as_of, fmt, out_path, chart, journeys, min_cell),
        options,
    )


@report_app.command()
def funnel(
    journey: Annotated[str | None, typer.Option(help="Only this journey.")] = None,
    window: WindowOpt = 30,
    by: ByOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = "table",
    out_path: OutOpt = None,
    chart: ChartOpt = None,
    min_cell: MinCellOpt = 0,
    journeys: JourneysOpt = Path("journeys.yaml"),
) -> None:
    """Journey funnel (funnel.v1): entered, requested, approved, sent, delivered, replied, goal or revisit."""
    from engine.reports.goals import goal_outcomes

    options = {"journey": journey, "window": window, **goal_outcomes(_catalog(journeys))}
    _run(
        "funnel",
        Shared(by, start, end, as_of, fmt, out_path, chart, journeys, min_cell),
        options,
    )


@report_app.command()
def experiment(
    experiment_id: Annotated[str | None, typer.Option("--experiment", help="Only this experiment.")] = None,
    journey: Annotated[str | None, typer.Option(help="Only this journey.")] = None,
    endpoint: Annotated[str, typer.Option(help="revisit (within --window days of entry) or followup (30 days).")] = (
        "revisit"
    ),
    window: WindowOpt = 30,
    population: Annotated[
        str, typer.Option(help="itt (every patient assigned) or triggered (only those with an exposure).")
    ] = "itt",
    curve: Annotated[
        Path | None, typer.Option("--curve", help="Also draw each arm's time to return (Kaplan-Meier) as a PNG here.")
    ] = None,
    by: ByOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = "table",
    out_path: OutOpt = None,
    chart: ChartOpt = None,
    min_cell: MinCellOpt = 0,
    journeys: JourneysOpt = Path("journeys.yaml"),
) -> None:
    """Experiment arms on a clinical endpoint (experiment.v1): rates with 95% intervals, treated - holdout, and the
    sample-ratio check (no verdict while it fails)."""
    from engine.reports.holdout import holdout_options

    options = {
        "experiment": experiment_id,
        "journey": journey,
        "endpoint": _choice("--endpoint", endpoint, ("revisit", "followup")),
        "window": window,
        "population": _choice("--population", population, ("itt", "triggered")),
        **holdout_options(_catalog(journeys)),
    }
    _run(
        "experiment",
        Shared(by, start, end, as_of, fmt, out_path, chart, journeys, min_cell),
        options,
        curve,
    )


@report_app.command()
def satisfaction(
    instrument: Annotated[str, typer.Option(help="The questionnaire's instrument.")] = "satisfaction",
    by: ByOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = "table",
    out_path: OutOpt = None,
    chart: ChartOpt = None,
    min_cell: MinCellOpt = 0,
    journeys: JourneysOpt = Path("journeys.yaml"),
) -> None:
    """Questionnaire scores (satisfaction.v1) by the journey that asked and its entry department."""
    _run(
        "satisfaction",
        Shared(by, start, end, as_of, fmt, out_path, chart, journeys, min_cell),
        {"instrument": instrument},
    )


@report_app.command()
def cohorts(
    anchor: Annotated[str, typer.Option(help="first-visit or journey-entry: what puts a patient in a cohort.")] = (
        "first-visit"
    ),
    months: Annotated[int, typer.Option(min=0, max=60, help="Months after the anchor month.")] = 6,
    by: ByOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = "table",
    out_path: OutOpt = None,
    chart: ChartOpt = None,
    min_cell: MinCellOpt = 0,
    journeys: JourneysOpt = Path("journeys.yaml"),
) -> None:
    """Retention by cohort month (cohorts.v1) on a month spine; months not over yet are empty, not zero."""
    options = {"anchor": _choice("--anchor", anchor, ("first-visit", "journey-entry")), "months": months}
    _run(
        "cohorts",
        Shared(by, start, end, as_of, fmt, out_path, chart, journeys, min_cell),
        options,
    )
