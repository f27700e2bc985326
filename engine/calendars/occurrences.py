"""When a calendar rule falls: every date in a Gregorian year, or the first date after a given one."""

from __future__ import annotations

from datetime import date

from engine.calendars.errors import CalendarError, NoSuchDateError
from engine.calendars.lunar import festival, lunar_date
from engine.calendars.periods import fu_start, jiu_start
from engine.calendars.rules import CalendarRule
from engine.calendars.terms import solar_term

# A lunar rule that most years lack (a leap month, a 30th) may skip many years; beyond this, say so.
SEARCH_YEARS = 60


def anchor(rule: CalendarRule, year: int) -> date | None:
    """The day ``rule`` names (before its offset) for ``year``: the Gregorian year for fixed dates and solar terms,
    the lunar year for lunar dates and festivals, the year of 夏至 for 伏 and of 冬至 for 九. ``None`` when that year
    has no such day (02-29 in a common year, a lunar 30th in a 29-day month, a leap month the year lacks)."""
    match rule.kind:
        case "fixed":
            try:
                return date(year, rule.month, rule.day)
            except ValueError:
                return None
        case "solar_term":
            return solar_term(year, rule.name)
        case "lunar":
            try:
                return lunar_date(year, rule.month, rule.day, rule.leap)
            except NoSuchDateError:
                return None
        case "festival":
            return festival(year, rule.name)
        case "fu":
            return fu_start(year, rule.name)
        case "jiu":
            return jiu_start(year, rule.number)


def occurrences(rule: CalendarRule, year: int) -> list[date]:
    """Every date in Gregorian ``year`` that ``rule`` falls on, offset applied, in order.

    Usually one; none for a day the year lacks; two when a lunar date or an offset brings two anchors into the same
    Gregorian year (腊八 early in January and again late in December).
    """
    reach = rule.offset.reach_in_years() + 1  # + 1: a lunar or 九 anchor of the year before falls in this one
    found: set[date] = set()
    for anchor_year in range(year - reach, year + reach + 1):
        named = anchor(rule, anchor_year)
        if named is not None and (moved := rule.offset.apply(named)).year == year:
            found.add(moved)
    return sorted(found)


def next_occurrence(rule: CalendarRule, after: date) -> date:
    """The first date strictly after ``after`` that ``rule`` falls on."""
    for year in range(after.year, after.year + SEARCH_YEARS + 1):
        later = [day for day in occurrences(rule, year) if day > after]
        if later:
            return later[0]
    raise CalendarError(f"calendar rule {rule} does not fall in the {SEARCH_YEARS} years after {after.isoformat()}")
