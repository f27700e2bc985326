"""A calendar rule: the day of the year a calendar-triggered journey starts on, named the way staff name it.

``CalendarRule`` is checked when it is made (an unknown name is an error with a did-you-mean), so a rule that
exists can always be computed for a year; it holds the name as written and resolves it when computing.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from engine.calendars.errors import CalendarError
from engine.calendars.lunar import festival_named
from engine.calendars.periods import JIU_NAMES, fu_name
from engine.calendars.terms import term_name

RuleKind = Literal["fixed", "solar_term", "lunar", "festival", "fu", "jiu"]
RULE_KINDS: tuple[RuleKind, ...] = ("fixed", "solar_term", "lunar", "festival", "fu", "jiu")


@dataclass(frozen=True, slots=True)
class Offset:
    """Whole months then days (either negative) moved from the day a rule names: '2 months before 初伏'.

    Months move on the calendar and a day the target month lacks becomes its last (31 August - 2 months is
    30 June), the convention of the journeys' durations (engine/journeys/durations.py, dateutil's relativedelta).
    """

    months: int = 0
    days: int = 0

    def apply(self, day: date) -> date:
        year, month = divmod(day.year * 12 + day.month - 1 + self.months, 12)
        moved = date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
        return moved + timedelta(days=self.days)

    def reach_in_years(self) -> int:
        """At most how many years the offset can move a date (so occurrences know which years to look at)."""
        return abs(self.months) // 12 + abs(self.days) // 365 + 1

    def __str__(self) -> str:
        parts = [f"{self.months:+d}mo" if self.months else "", f"{self.days:+d}d" if self.days else ""]
        return " ".join(part for part in parts if part)


NO_OFFSET = Offset()


@dataclass(frozen=True, slots=True)
class CalendarRule:
    """One of: a fixed Gregorian month and day; a solar term; a lunar month and day (``leap`` for the leap month);
    a lunar festival; a 伏 period's first day; the first day of the ``number``-th 九. Then ``offset``."""

    kind: RuleKind
    name: str = ""
    month: int = 0
    day: int = 0
    leap: bool = False
    number: int = 0
    offset: Offset = field(default=NO_OFFSET)

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise CalendarError(f"unknown calendar rule kind {self.kind!r}: one of {', '.join(RULE_KINDS)}")
        check = _CHECKS[self.kind]
        check(self)

    def __str__(self) -> str:
        named = {
            "fixed": f"{self.month:02d}-{self.day:02d}",
            "solar_term": self.name,
            "lunar": f"lunar {'leap ' if self.leap else ''}{self.month:02d}-{self.day:02d}",
            "festival": self.name,
            "fu": self.name,
            "jiu": JIU_NAMES[self.number - 1] if 1 <= self.number <= len(JIU_NAMES) else str(self.number),
        }[self.kind]
        return f"{named} {self.offset}".strip()


def _check_fixed(rule: CalendarRule) -> None:
    try:
        date(2000, rule.month, rule.day)  # a leap year: 02-29 is a rule that happens in leap years only
    except ValueError as error:
        raise CalendarError(f"no such day of the year: {rule.month:02d}-{rule.day:02d} ({error})") from error


def _check_lunar(rule: CalendarRule) -> None:
    if not (1 <= rule.month <= 12 and 1 <= rule.day <= 30):
        raise CalendarError(f"no such lunar date: month {rule.month}, day {rule.day} (months 1 to 12, days 1 to 30)")


def _check_jiu(rule: CalendarRule) -> None:
    if not 1 <= rule.number <= len(JIU_NAMES):
        raise CalendarError(f"no 九 numbered {rule.number}: they are numbered 1 (一九) to 9 (九九)")


_CHECKS = {
    "fixed": _check_fixed,
    "solar_term": lambda rule: term_name(rule.name),
    "lunar": _check_lunar,
    "festival": lambda rule: festival_named(rule.name),
    "fu": lambda rule: fu_name(rule.name),
    "jiu": _check_jiu,
}
