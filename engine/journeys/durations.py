"""Durations as staff write them in journeys.yaml: '3d', '-3d', '2w', '1mo', '1y', '12h', '1d12h'.

Calendar units (y, mo, w, d) move the local wall-clock date, so 'day 3 at 10:00' stays 10:00 across a
daylight-saving change; h and m are exact elapsed time.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNIT = r"(\d+)(y|mo|w|d|h|m)"
DURATION_PATTERN = rf"^-?({_UNIT})+$"
_PART = re.compile(_UNIT)
_WHOLE = re.compile(DURATION_PATTERN)
DURATION_HELP = "a number and a unit (y, mo, w, d, h, m), optionally negative or combined: '3d', '-3d', '1y', '1d12h'"


@dataclass(frozen=True, slots=True)
class Duration:
    text: str
    sign: int
    years: int = 0
    months: int = 0
    days: int = 0
    minutes: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        cleaned = text.strip().replace(" ", "")
        if not _WHOLE.match(cleaned):
            raise ValueError(f"invalid duration {text!r}: expected {DURATION_HELP}")
        amounts = {"y": 0, "mo": 0, "w": 0, "d": 0, "h": 0, "m": 0}
        for number, unit in _PART.findall(cleaned):
            amounts[unit] += int(number)
        return cls(
            text=cleaned,
            sign=-1 if cleaned.startswith("-") else 1,
            years=amounts["y"],
            months=amounts["mo"],
            days=amounts["d"] + 7 * amounts["w"],
            minutes=amounts["m"] + 60 * amounts["h"],
        )

    @property
    def has_calendar_part(self) -> bool:
        return bool(self.years or self.months or self.days)

    def add_to(self, moment: datetime) -> datetime:
        """Add to an aware datetime: calendar part on the local wall clock of its zone, then exact minutes."""
        tz = moment.tzinfo
        wall = calendar_add(moment.replace(tzinfo=None), self.sign * self.years, self.sign * self.months)
        if self.days:
            wall += timedelta(days=self.sign * self.days)
        shifted = wall.replace(tzinfo=tz)
        # Normalise through UTC so a wall time that does not exist (DST gap) gets its real offset.
        shifted = shifted.astimezone(tz) if tz is not None else shifted
        return shifted + timedelta(minutes=self.sign * self.minutes)

    def approx_timedelta(self) -> timedelta:
        """Elapsed-time approximation for comparisons such as 'older than 1y' (365-day years, 30-day months)."""
        days = 365 * self.years + 30 * self.months + self.days
        return self.sign * timedelta(days=days, minutes=self.minutes)

    def __str__(self) -> str:
        return self.text


def calendar_add(wall: datetime, years: int, months: int) -> datetime:
    """``wall`` moved by whole years and months on the calendar; a day the target month lacks becomes its last
    (Jan 31 + 1mo = Feb 28 or 29), as dateutil's relativedelta does."""
    if not years and not months:
        return wall
    year, month = divmod(wall.year * 12 + wall.month - 1 + years * 12 + months, 12)
    day = min(wall.day, calendar.monthrange(year, month + 1)[1])
    return wall.replace(year=year, month=month + 1, day=day)


def _to_duration(value: Any) -> Any:
    if isinstance(value, Duration):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: a bare number has no unit; write e.g. '{value}d'")
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}: expected {DURATION_HELP}")
    return Duration.parse(value)


DurationField = Annotated[
    Duration,
    BeforeValidator(_to_duration),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "description": f"Duration: {DURATION_HELP}."}),
]

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _to_time(value: Any) -> Any:
    if isinstance(value, time):
        return value
    # YAML 1.1 readers turn unquoted 10:00 into the sexagesimal number 600: accept it as minutes of the day.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    if isinstance(value, str) and (m := _TIME.match(value.strip())):
        return time(int(m.group(1)), int(m.group(2)))
    raise ValueError(f"invalid time of day {value!r}: expected 24-hour 'HH:MM', e.g. '09:30'")


TimeOfDay = Annotated[
    time,
    BeforeValidator(_to_time),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": _TIME.pattern, "description": "Local time of day, 'HH:MM'."}),
]
