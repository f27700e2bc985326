"""The dates of the calendar journeys, compiled per catalog (issue 18, design §3.2): each calendar entry's season,
the day it falls on, moved to China's official working day when the entry asks, or held when that year's working
days are not known. Worked out on first use and kept in the table object (never in a module), so ``pending()``
computes no date and a season costs its milliseconds once per catalog."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from engine.calendars import OutOfCoverageError, anchor, holiday_years, is_working_day, working_day_on_or_after
from engine.journeys.calendar_definition import CalendarEntry, CalendarSpec
from engine.journeys.definition import Journey

NO_CALENDAR = "none"  # the calendar hash of a deployment that starts no calendar journey
_LONGEST_BREAK = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class Season:
    season: int  # the year the rule's anchor takes
    occurrence: date  # the day, offset applied, moved to a working day when asked (when held: before moving)
    adjusted_from: date | None  # the day before a working-day move; None when it did not move
    held_reason: str | None  # why it cannot be dated (working days of its year unknown); None: dated


class CalendarTable:
    """Every calendar journey version's seasons, by (journey id, version): filled as they are asked for."""

    def __init__(self, journeys: Iterable[Journey]) -> None:
        self._specs: dict[tuple[str, int], CalendarSpec] = {
            (j.id, j.version): j.entry.calendar for j in journeys if isinstance(j.entry, CalendarEntry)
        }
        self._seasons: dict[tuple[str, int, int], Season | None] = {}
        years = holiday_years()
        self.coverage = (years.start, years.stop - 1)  # the official working days known (chinesecalendar)

    def __bool__(self) -> bool:
        return bool(self._specs)

    def journey_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(journey_id for journey_id, _ in self._specs))

    def season(self, journey: Journey, year: int) -> Season | None:
        """The journey's season ``year`` (None: the rule does not fall that year, e.g. 02-29 in a common year)."""
        key = (journey.id, journey.version, year)
        if key not in self._seasons:
            self._seasons[key] = season_of(self._specs[(journey.id, journey.version)], year)
        return self._seasons[key]

    def hash_for(self, selected: Iterable[tuple[str, int]]) -> str:
        """What the schedule of the calendar journeys among ``selected`` (id, version) depends on: their entries and
        the official working days known. A different value means every patient is rescheduled."""
        specs = {f"{j}@{v}": self._specs[(j, v)].model_dump(mode="json") for j, v in selected if (j, v) in self._specs}
        if not specs:
            return NO_CALENDAR
        payload = json.dumps({"entries": specs, "working_days": self.coverage}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def season_of(spec: CalendarSpec, year: int) -> Season | None:
    """The season ``year`` of a calendar entry: its day, moved to a working day when asked, or held."""
    rule = spec.calendar_rule()
    named = anchor(rule, year)
    if named is None:
        return None
    day = rule.offset.apply(named)
    if spec.working_day == "none":
        return Season(year, day, None, None)
    try:
        moved = working_day_on_or_after(day) if spec.working_day == "on_or_after" else _working_day_on_or_before(day)
    except OutOfCoverageError as error:
        return Season(year, day, None, str(error))
    return Season(year, moved, None if moved == day else day, None)


def _working_day_on_or_before(day: date) -> date:
    candidate = day
    while not is_working_day(candidate):
        candidate -= timedelta(days=1)
        if day - candidate > _LONGEST_BREAK:
            raise OutOfCoverageError(f"no working day within {_LONGEST_BREAK.days} days before {day.isoformat()}")
    return candidate
