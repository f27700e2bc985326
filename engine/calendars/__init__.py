"""Pure calendar computations for calendar-triggered journeys: solar terms, the lunar calendar and its festivals,
the 干支 day count, the 伏 and 九 periods, the 膏方节 span, China's official working days, and calendar rules.

No I/O and no clock: every function takes the year or the date it answers for. Dates are in China Standard Time.
The astronomy is tyme4py's; the official holidays are chinesecalendar's (docs/calendars.md).
"""

from __future__ import annotations

from engine.calendars.errors import CalendarError, NoSuchDateError, OutOfCoverageError, UnknownNameError
from engine.calendars.lunar import (
    FESTIVALS,
    Festival,
    festival,
    festival_named,
    leap_month,
    lunar_date,
    lunar_month_length,
)
from engine.calendars.occurrences import anchor, next_occurrence, occurrences
from engine.calendars.periods import (
    FU_PERIODS,
    JIU_NAMES,
    DateSpan,
    fu_name,
    fu_span,
    fu_start,
    gaofang_span,
    jiu_span,
    jiu_start,
)
from engine.calendars.rules import NO_OFFSET, RULE_KINDS, CalendarRule, Offset, RuleKind
from engine.calendars.sexagenary import heavenly_stem, sexagenary_day, sexagenary_index
from engine.calendars.terms import CHINA_STANDARD_TIME, SOLAR_TERMS, TermName, solar_term, solar_term_instant, term_name
from engine.calendars.workdays import (
    holiday_years,
    is_makeup_working_day,
    is_working_day,
    next_working_day,
    working_day_on_or_after,
)

__all__ = [
    "CHINA_STANDARD_TIME",
    "FESTIVALS",
    "FU_PERIODS",
    "JIU_NAMES",
    "NO_OFFSET",
    "RULE_KINDS",
    "SOLAR_TERMS",
    "CalendarError",
    "CalendarRule",
    "DateSpan",
    "Festival",
    "NoSuchDateError",
    "Offset",
    "OutOfCoverageError",
    "RuleKind",
    "TermName",
    "UnknownNameError",
    "anchor",
    "festival",
    "festival_named",
    "fu_name",
    "fu_span",
    "fu_start",
    "gaofang_span",
    "heavenly_stem",
    "holiday_years",
    "is_makeup_working_day",
    "is_working_day",
    "jiu_span",
    "jiu_start",
    "leap_month",
    "lunar_date",
    "lunar_month_length",
    "next_occurrence",
    "next_working_day",
    "occurrences",
    "sexagenary_day",
    "sexagenary_index",
    "solar_term",
    "solar_term_instant",
    "term_name",
    "working_day_on_or_after",
]
