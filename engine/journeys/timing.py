"""When a wait is due: an anchor, an offset, a local time of day, a time zone. Pure."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from engine.journeys.durations import Duration
from engine.journeys.state import Profile


def zone(spec: str, profile: Profile, hospital_timezone: str) -> ZoneInfo:
    if spec == "hospital":
        return ZoneInfo(hospital_timezone)
    if spec == "patient":
        return ZoneInfo(profile.timezone or hospital_timezone)
    return ZoneInfo(spec)


def due_at(anchor: datetime, offset: Duration, at: time | None, tz: ZoneInfo) -> datetime:
    """anchor + offset on the local calendar of ``tz``, then moved to ``at`` local time on that date."""
    moved = offset.add_to(anchor.astimezone(tz))
    if at is not None:
        wall = moved.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
        # Round-trip through UTC: a wall time inside a DST gap becomes the real instant after the gap.
        moved = wall.astimezone(ZoneInfo("UTC")).astimezone(tz)
    return moved


def start_of_day(value: object, tz: ZoneInfo) -> datetime | None:
    """A calendar date ('2026-12-01', a birth date) as midnight of that day in ``tz``; None for anything else."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return datetime.combine(day, time(0), tzinfo=tz)


def parse_moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None
