"""China's official working days: weekends, the State Council's public holidays and its make-up working days (调休).

From chinesecalendar (LKI/chinese-calendar), which types in each year's State Council notice once it is published
(usually in November for the next year). A year it does not hold yet is an error, never a guess from weekdays.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar  # type: ignore[import-untyped]

from engine.calendars.errors import OutOfCoverageError

# No two public holidays with their weekends run longer than this, so a search that goes further is a bug.
_LONGEST_BREAK = timedelta(days=31)


def holiday_years() -> range:
    """The years whose official working days are known (those the installed chinesecalendar holds)."""
    years = [day.year for day in chinese_calendar.holidays]
    return range(min(years), max(years) + 1)


def _covered(day: date) -> date:
    years = holiday_years()
    if day.year not in years:
        raise OutOfCoverageError(
            f"China's official working days for {day.year} are not known: the installed chinesecalendar covers "
            f"{years.start} to {years.stop - 1} (a newer release adds a year once the State Council publishes it)"
        )
    return day


def is_working_day(day: date) -> bool:
    """Whether ``day`` is an official working day: a weekday that is no public holiday, or a make-up working day."""
    working: bool = chinese_calendar.is_workday(_covered(day))
    return working


def is_makeup_working_day(day: date) -> bool:
    """Whether ``day`` is a weekend day that the holiday notice makes a working day (调休上班)."""
    return day.weekday() >= 5 and is_working_day(day)


def working_day_on_or_after(day: date) -> date:
    """``day`` if it is a working day, else the first working day after it."""
    candidate = day
    while not is_working_day(candidate):
        candidate += timedelta(days=1)
        if candidate - day > _LONGEST_BREAK:
            raise OutOfCoverageError(f"no working day within {_LONGEST_BREAK.days} days of {day.isoformat()}")
    return candidate


def next_working_day(day: date) -> date:
    """The first working day after ``day``."""
    return working_day_on_or_after(day + timedelta(days=1))
