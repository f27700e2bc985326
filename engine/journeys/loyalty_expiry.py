"""When earned points become available and when they expire (issue 17, design §3): exact to the minute in the
patient's time zone. Pure: the zone is given (a ZoneInfo the caller loaded), nothing is read.

The duration moves the local wall clock by its calendar part (years, months, days: 'day 3 at 10:00' stays 10:00
across a daylight-saving change, as waits do) and then by its hours and minutes as elapsed time; the result is
rounded up to the first whole local minute, or to the first local midnight starting a day, a month or a year. A wall
time that does not exist (a daylight-saving gap) is the first instant after the gap; an ambiguous one is its first
occurrence. Points are spendable at x iff available_at <= x < expires_at."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from engine.journeys.durations import Duration, calendar_add

Rounding = Literal["minute", "day", "month", "year"]
MINUTE = timedelta(minutes=1)


def expires_at(earned_at: datetime, after: Duration, rounding: Rounding, zone: ZoneInfo) -> datetime:
    """``earned_at`` + ``after`` on the local calendar of ``zone``, rounded up as ``rounding`` says."""
    return rounded_up(moved(earned_at, after, zone), rounding, zone)


def available_at(earned_at: datetime, pending: Duration, zone: ZoneInfo) -> datetime:
    """When pending points become available: ``earned_at`` + ``pending``, rounded up to the local minute."""
    return rounded_up(moved(earned_at, pending, zone), "minute", zone)


def moved(moment: datetime, by: Duration, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a loyalty time must be aware (with its time zone): a naive time is ambiguous")
    local = moment.astimezone(zone).replace(tzinfo=None)
    wall = calendar_add(local, by.sign * by.years, by.sign * by.months) + timedelta(days=by.sign * by.days)
    # an unchanged wall keeps the instant itself (its fold); a moved one is placed in the zone afresh
    placed = moment.astimezone(zone) if wall == local else resolve(wall, zone)
    return (placed.astimezone(UTC) + timedelta(minutes=by.sign * by.minutes)).astimezone(zone)


def resolve(wall: datetime, zone: ZoneInfo) -> datetime:
    """A local wall time as an instant: in a gap the first instant after it, when ambiguous the first occurrence."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def rounded_up(moment: datetime, rounding: Rounding, zone: ZoneInfo) -> datetime:
    if rounding == "minute":
        instant = moment.astimezone(UTC)
        floor = instant.replace(second=0, microsecond=0)
        return (floor if floor == instant else floor + MINUTE).astimezone(zone)
    local = moment.astimezone(zone)
    start = period_start(local.date(), rounding)
    candidate = resolve(datetime.combine(start, datetime.min.time()), zone)
    if candidate >= moment:
        return candidate
    return resolve(datetime.combine(next_period(start, rounding), datetime.min.time()), zone)


def period_start(day: date, rounding: Rounding) -> date:
    if rounding == "month":
        return day.replace(day=1)
    if rounding == "year":
        return day.replace(month=1, day=1)
    return day


def next_period(start: date, rounding: Rounding) -> date:
    if rounding == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    if rounding == "year":
        return date(start.year + 1, 1, 1)
    return start + timedelta(days=1)


def back(moment: datetime, by: Duration, zone: ZoneInfo) -> datetime:
    """``moment`` moved back by ``by`` on the local calendar (a period's start)."""
    return moved(moment, Duration(by.text, -by.sign, by.years, by.months, by.days, by.minutes), zone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return resolve(datetime.combine(day, datetime.min.time()), zone)
