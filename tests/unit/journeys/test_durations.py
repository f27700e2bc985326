"""Durations move the local calendar as dateutil's relativedelta does (the core uses the standard library alone,
so dateutil is the oracle here)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from engine.journeys.durations import Duration

ZONES = [ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"), ZoneInfo("Europe/London"), ZoneInfo("UTC")]


def by_relativedelta(d: Duration, moment: datetime) -> datetime:
    tz = moment.tzinfo
    wall = moment.replace(tzinfo=None)
    wall += relativedelta(years=d.sign * d.years, months=d.sign * d.months, days=d.sign * d.days)
    shifted = wall.replace(tzinfo=tz).astimezone(tz)
    return shifted + d.sign * relativedelta(minutes=d.minutes)


@given(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 12, 31)),
    st.sampled_from(ZONES),
    st.booleans(),
    st.integers(0, 30),
    st.integers(0, 40),
    st.integers(0, 400),
    st.integers(0, 3000),
)
def test_a_duration_moves_the_calendar_as_relativedelta_does(
    wall: datetime, zone: ZoneInfo, negative: bool, years: int, months: int, days: int, minutes: int
) -> None:
    text = f"{'-' if negative else ''}{years}y{months}mo{days}d{minutes}m"
    duration = Duration.parse(text)
    moment = wall.replace(tzinfo=zone)
    assert duration.add_to(moment) == by_relativedelta(duration, moment)
    assert duration.add_to(moment).utcoffset() == by_relativedelta(duration, moment).utcoffset()


def test_the_last_day_of_a_month_stays_the_last_when_the_next_is_shorter() -> None:
    jan31 = datetime(2026, 1, 31, 10, 0, tzinfo=ZONES[0])
    assert Duration.parse("1mo").add_to(jan31) == datetime(2026, 2, 28, 10, 0, tzinfo=ZONES[0])
    assert Duration.parse("-1y1mo").add_to(datetime(2024, 3, 31, tzinfo=ZONES[0])) == datetime(
        2023, 2, 28, tzinfo=ZONES[0]
    )
