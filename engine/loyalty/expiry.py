"""Expiry rules: when a batch earned at a given time expires, exact to the minute in the patient's time zone. Month
ends clamp on the calendar (31 January + 1 month is 28 or 29 February), as dateutil's relativedelta does (the
tests' oracle; the ledger sits under the journey core, which imports no dateutil); the end of a day is 23:59 local
time, which exists on every day, daylight saving or not."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo

from engine.loyalty.errors import InvalidOperationError
from engine.loyalty.ledger import aware

END_OF_DAY = time(23, 59)


@dataclass(frozen=True)
class MonthsAfterEarning:
    """N months after the day of earning, at the end of that day (23:59) in the patient's zone."""

    months: int

    def __post_init__(self) -> None:
        if isinstance(self.months, bool) or not isinstance(self.months, int) or self.months < 1:
            raise InvalidOperationError(f"an expiry of {self.months!r} months after earning: months must be 1 or more")


@dataclass(frozen=True)
class EndOfCalendarYear:
    """31 December at 23:59 in the patient's zone, of the year of earning (``years_after`` = 0) or a later one."""

    years_after: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.years_after, bool) or not isinstance(self.years_after, int) or self.years_after < 0:
            raise InvalidOperationError(f"an expiry {self.years_after!r} years after: years_after must be 0 or more")


ExpiryRule = MonthsAfterEarning | EndOfCalendarYear


def expiry_at(earned_at: datetime, rule: ExpiryRule, tz: tzinfo) -> datetime:
    """When points earned at ``earned_at`` expire under ``rule``, as an aware datetime in ``tz`` (a ZoneInfo the
    caller built: loading a zone reads the tz database, which is the caller's I/O, not the ledger's)."""
    day = aware(earned_at, "earned_at").astimezone(tz).date()
    match rule:
        case MonthsAfterEarning(months=months):
            last_day = add_months(day, months)
        case EndOfCalendarYear(years_after=years):
            last_day = date(day.year + years, 12, 31)
    return datetime.combine(last_day, END_OF_DAY, tzinfo=tz)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months; a day the target month lacks becomes its last."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return day.replace(year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1]))
