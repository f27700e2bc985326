"""The catalog's calendar table (issue 18, design §3.2, §6.1): each calendar journey's seasons for 2026 to 2030,
offset applied, moved to an official working day when asked, held when the year's working days are not known;
worked out once per catalog, and a hash that changes only with what the dates depend on.

The 伏, 九 and festival dates are the almanac's, as tests/unit/calendars/test_almanac.py checks them against the Hong
Kong Observatory's Gregorian-Lunar Calendar Conversion Tables (2026 to 2030) and the 中国天文年历's 伏 count. The
working days are the State Council's notice for 2026 (国务院办公厅关于2026年部分节假日安排的通知)."""

from __future__ import annotations

from datetime import date

import pytest

from engine.journeys import calendar_table
from engine.journeys.calendar_table import NO_CALENDAR, Season
from engine.journeys.catalog import Catalog
from tests.unit.journeys.test_calendar_campaign import JOURNEYS, load

CAMPAIGNS = JOURNEYS.replace(
    "templates:",
    """\
  - id: spring-festival
    version: 1
    name: 春节 greetings
    entry: {calendar: {rule: {festival: 除夕}, at: "20:00", spread: 2h}}
    steps: [{id: greet, message: {template: sanfu-invite, channels: [sms], category: marketing}}]
  - id: sanjiu-tie
    version: 1
    name: 三九贴
    entry: {calendar: {rule: {jiu: 3}, offset: -10d, at: "09:00", working_day: on_or_after}}
    steps: [{id: invite, message: {template: sanfu-invite, channels: [sms], category: marketing}}]
  - id: leap-day
    version: 1
    name: A leap day greeting
    entry: {calendar: {rule: {fixed: "02-29"}, at: "10:00"}}
    steps: [{id: greet, message: {template: sanfu-invite, channels: [sms], category: marketing}}]
templates:""",
)


def seasons(catalog: Catalog, journey_id: str, years: range) -> dict[int, Season | None]:
    journey = catalog.journey(journey_id)
    return {year: catalog.calendar.season(journey, year) for year in years}


def test_the_catalog_compiles_the_campaign_dates_for_2026_to_2030() -> None:
    catalog = load(CAMPAIGNS)

    # 初伏 2026-07-15, 2027-07-20, 2028-07-14, 2029-07-19, 2030-07-14; two months before.
    booking = seasons(catalog, "sanfu-tie", range(2026, 2031))
    assert {y: s.occurrence for y, s in booking.items() if s} == {
        2026: date(2026, 5, 15),
        2027: date(2027, 5, 20),
        2028: date(2028, 5, 14),
        2029: date(2029, 5, 19),
        2030: date(2030, 5, 14),
    }
    # 除夕 of lunar 2026 to 2030 (the eve of the next 春节): the season is the lunar year.
    eve = seasons(catalog, "spring-festival", range(2026, 2031))
    assert [s.occurrence for s in eve.values() if s] == [
        date(2027, 2, 5),
        date(2028, 1, 25),
        date(2029, 2, 12),
        date(2030, 2, 2),
        date(2031, 1, 22),
    ]
    # 02-29 falls only in leap years: no season in the others.
    assert {y: s.occurrence if s else None for y, s in seasons(catalog, "leap-day", range(2027, 2029)).items()} == {
        2027: None,
        2028: date(2028, 2, 29),
    }


def test_a_season_starting_in_the_next_year_belongs_to_its_winter_solstice() -> None:
    # 三九 counts from 冬至 (2025-12-21, 2026-12-22): it begins 2026-01-08 and 2027-01-09; the entry is 10 days before.
    catalog = load(CAMPAIGNS)
    found = seasons(catalog, "sanjiu-tie", range(2025, 2027))
    first, second = found[2025], found[2026]
    assert first is not None and (first.occurrence, first.held_reason) == (date(2025, 12, 29), None)
    assert second is not None and second.occurrence == date(2026, 12, 30)  # a Wednesday: a working day


def test_a_year_without_official_working_days_is_held_never_guessed() -> None:
    catalog = load(CAMPAIGNS)
    held = seasons(catalog, "sanjiu-tie", range(2027, 2028))[2027]
    assert held is not None and held.occurrence == date(2027, 12, 30) and held.adjusted_from is None
    assert held.held_reason is not None and held.held_reason.startswith(
        "China's official working days for 2027 are not known"
    )


def test_each_season_is_worked_out_once_per_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = load(CAMPAIGNS)
    calls: list[int] = []
    compute = calendar_table.season_of

    def counted(spec: object, year: int) -> Season | None:
        calls.append(year)
        return compute(spec, year)  # type: ignore[arg-type]

    monkeypatch.setattr(calendar_table, "season_of", counted)
    journey = catalog.journey("sanfu-tie")
    assert catalog.calendar.season(journey, 2027) == catalog.calendar.season(journey, 2027)
    assert calls == [2027]
    assert load(CAMPAIGNS).calendar.season(journey, 2027) is not None and calls == [2027, 2027]  # another catalog


def test_the_calendar_hash_changes_with_the_calendar_entries_only() -> None:
    same, again = load(CAMPAIGNS), load(CAMPAIGNS)
    moved = load(CAMPAIGNS.replace("{jiu: 3}, offset: -10d", "{jiu: 3}, offset: -9d"))
    worded = load(CAMPAIGNS.replace("name: 三九贴", "name: 三九贴 campaign"))
    at = same.deployments[0].effective_at
    assert same.calendar_hash_at(at) == again.calendar_hash_at(at) == worded.calendar_hash_at(at) != NO_CALENDAR
    assert moved.calendar_hash_at(at) != same.calendar_hash_at(at)
    assert load().calendar_hash_at(at) != same.calendar_hash_at(at)  # fewer calendar journeys
