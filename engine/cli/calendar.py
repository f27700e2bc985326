"""`careloop calendar status [JOURNEY]`: the seasons of a journeys file's calendar journeys, read from the file alone
(design §3.5): each season's date, its working-day adjustment, and the seasons held because China's official working
days for their year are not known yet (the runbook in docs/calendars.md says what to do). Exit 0, or 1 when a
journey is unknown or the file does not load."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from engine.cli.consoles import consoles
from engine.journeys.calendar_definition import CalendarEntry, CalendarSpec
from engine.journeys.calendar_table import season_of
from engine.journeys.catalog import Catalog
from engine.journeys.definition import Journey
from engine.journeys.outline import calendar_words
from engine.language.errors import JourneyFileError
from engine.language.loader import load_catalog
from engine.yamlfile.suggest import did_you_mean

calendar_app = typer.Typer(no_args_is_help=True, help="Calendar-triggered journeys: their seasons and held seasons.")
out, err = consoles()


@calendar_app.callback()
def _group() -> None:
    """Calendar-triggered journeys: their seasons and held seasons."""


YEARS = "2026-2030"


def _years(text: str) -> range:
    first, _, last = text.partition("-")
    try:
        years = range(int(first), int(last or first) + 1)
    except ValueError:
        years = range(0)
    if not years or len(years) > 50:
        err.print(f"error: --years {text!r}: expected a year or a span such as 2026-2030 (at most 50)", markup=False)
        raise typer.Exit(2)
    return years


def _catalog(path: Path) -> Catalog:
    try:
        return load_catalog(path)
    except JourneyFileError as error:
        for problem in error.problems:
            err.print(str(problem), markup=False)
        raise typer.Exit(1) from error


def season_lines(catalog: Catalog, journey: Journey, years: range) -> list[str]:
    """One line per season: its date, the adjustment, or why it is held."""
    assert isinstance(journey.entry, CalendarEntry)
    lines = [f"{journey.id} v{journey.version}: {calendar_words(journey.entry.calendar)}"]
    for year in years:
        season = catalog.calendar.season(journey, year)
        if season is None:
            lines.append(f"  {year}: the rule does not fall in this season")
        elif season.held_reason is not None:
            lines.append(f"  {year}: {season.occurrence.isoformat()} HELD: {season.held_reason}")
        elif season.adjusted_from is not None:
            moved = season.adjusted_from.isoformat()
            lines.append(f"  {year}: {season.occurrence.isoformat()} (moved from {moved}, not a working day)")
        else:
            lines.append(f"  {year}: {season.occurrence.isoformat()}")
    return lines


def held_soon(catalog: Catalog, today: date, months: int = 18) -> list[str]:
    """Warnings for `careloop validate`: each calendar journey's season within ``months`` of ``today`` that is held
    because its year's official working days are not known (the runbook: upgrade chinesecalendar, restart)."""
    horizon = today + timedelta(days=31 * months)
    found = []
    for journey in catalog.current.values():
        if not isinstance(journey.entry, CalendarEntry):
            continue
        for year in range(today.year - 1, horizon.year + 2):
            season = catalog.calendar.season(journey, year)
            if season is not None and season.held_reason is not None and today <= season.occurrence <= horizon:
                found.append(
                    f"{journey.id} season {year} ({season.occurrence.isoformat()}) is held: {season.held_reason}; "
                    "upgrade chinesecalendar once the State Council's notice is out (docs/calendars.md)"
                )
    return found


RULE_HELP = "kind:value, e.g. fu:初伏, solar_term:冬至, festival:春节, lunar:09-09, fixed:10-01, jiu:3"


def _spec(rule: str, offset: str, working_day: str, leap: bool) -> CalendarSpec:
    kind, _, value = rule.partition(":")
    raw: dict[str, object] = {kind: int(value) if kind == "jiu" and value.isdigit() else value}
    if leap:
        raw["leap"] = True
    try:
        return CalendarSpec.model_validate({"rule": raw, "offset": offset, "at": "00:00", "working_day": working_day})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in error.errors()
        )
        err.print(f"error: {rule!r}: {problems} (a rule is {RULE_HELP})", markup=False)
        raise typer.Exit(2) from error


@calendar_app.command()
def dates(
    rule: Annotated[str, typer.Argument(help=f"The rule: {RULE_HELP}.")],
    offset: Annotated[str, typer.Option("--offset", help="Months then days: -2mo, -1mo-5d.")] = "0d",
    working_day: Annotated[str, typer.Option("--working-day", help="none, on_or_after or before.")] = "none",
    leap: Annotated[bool, typer.Option("--leap", help="With lunar: the leap month.")] = False,
    years: Annotated[str, typer.Option("--years", help="Seasons to list: 2027 or 2026-2030.")] = YEARS,
) -> None:
    """The dates a calendar rule falls on, season by season (China Standard Time dates)."""
    spec = _spec(rule, offset, working_day, leap)
    out.print(str(spec.calendar_rule()), markup=False)
    for year in _years(years):
        season = season_of(spec, year)
        if season is None:
            out.print(f"  {year}: the rule does not fall in this season", markup=False)
        elif season.held_reason is not None:
            out.print(f"  {year}: {season.occurrence.isoformat()} HELD: {season.held_reason}", markup=False)
        elif season.adjusted_from is not None:
            out.print(f"  {year}: {season.occurrence.isoformat()} (moved from {season.adjusted_from})", markup=False)
        else:
            out.print(f"  {year}: {season.occurrence.isoformat()}", markup=False)


@calendar_app.command()
def status(
    journey: Annotated[str | None, typer.Argument(help="A calendar journey id (default: every one).")] = None,
    journeys: Annotated[Path, typer.Option("--journeys", help="Journeys file.")] = Path("journeys.yaml"),
    years: Annotated[str, typer.Option("--years", help="Seasons to list: 2027 or 2026-2030.")] = YEARS,
) -> None:
    """Each calendar journey's seasons: dates, working-day adjustments, held seasons, and the coverage known."""
    catalog = _catalog(journeys)
    calendar = [j for j in catalog.current.values() if isinstance(j.entry, CalendarEntry)]
    if journey is not None:
        chosen = [j for j in calendar if j.id == journey]
        if not chosen:
            names = {j.id for j in calendar}
            hint = did_you_mean(journey, names) or f" (calendar journeys: {', '.join(sorted(names)) or 'none'})"
            err.print(f"error: no calendar journey {journey!r} in {journeys}{hint}", markup=False)
            raise typer.Exit(1)
        calendar = chosen
    first, last = catalog.calendar.coverage
    out.print(f"official working days known: {first} to {last} (chinesecalendar)", markup=False)
    for j in calendar:
        out.print("\n".join(season_lines(catalog, j, _years(years))), markup=False)
    if not calendar:
        out.print(f"{journeys}: no calendar journeys", markup=False)
