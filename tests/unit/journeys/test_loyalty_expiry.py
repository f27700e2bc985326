"""Points expire exactly to the minute in the patient's time zone (issue 17, design §3): the duration moves the local
calendar (dateutil's relativedelta is the oracle), hours and minutes are elapsed time, and the result is rounded up to
the local minute or the local midnight starting a day, a month or a year. Points are spendable a minute before their
expiry and gone at it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.journeys.durations import Duration
from engine.journeys.loyalty_expiry import Rounding, available_at, expires_at
from engine.loyalty import Ledger, balances, earn

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = [SHANGHAI, NEW_YORK, ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe")]
ROUNDINGS: list[Rounding] = ["minute", "day", "month", "year"]

moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))
durations = st.builds(
    lambda years, months, days, hours, minutes: Duration.parse(f"{years}y{months}mo{days}d{hours}h{minutes}m"),
    st.integers(0, 2), st.integers(0, 18), st.integers(0, 40), st.integers(0, 30), st.integers(0, 59),
)  # fmt: skip


def oracle(earned_at: datetime, after: Duration, rounding: Rounding, zone: ZoneInfo) -> datetime:
    """Independently: relativedelta on the local wall clock, elapsed minutes in UTC, then the first whole minute
    (by the epoch) or the first local midnight of a day/month/year, among candidates, at or after it."""
    wall = earned_at.astimezone(zone).replace(tzinfo=None)
    moved_wall = wall + relativedelta(years=after.years, months=after.months, days=after.days)
    placed = earned_at if moved_wall == wall else moved_wall.replace(tzinfo=zone).astimezone(UTC)
    t = placed.astimezone(UTC) + timedelta(minutes=after.minutes)
    if rounding == "minute":
        return datetime.fromtimestamp(math.ceil(t.timestamp() / 60) * 60, UTC)
    local_day = t.astimezone(zone).date()
    days = [local_day + timedelta(days=n) for n in range(0, 370)]
    starts = [d for d in days if rounding == "day" or (d.day == 1 and (rounding == "month" or d.month == 1))]
    midnights = [datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(UTC).astimezone(zone) for d in starts]
    return min(m for m in midnights if m >= t)


@settings(max_examples=300, deadline=None)
@given(moments, durations, st.sampled_from(ROUNDINGS), st.sampled_from(ZONES))
def test_expiry_is_exact_to_the_minute_in_the_patients_time_zone(
    earned_at: datetime, after: Duration, rounding: Rounding, zone: ZoneInfo
) -> None:
    expiry = expires_at(earned_at, after, rounding, zone)

    assert expiry.second == 0 and expiry.microsecond == 0
    assert expiry.tzinfo is zone
    assert expiry == oracle(earned_at, after, rounding, zone)
    if rounding != "minute":
        assert expiry.astimezone(zone).minute == 0


@settings(max_examples=100, deadline=None)
@given(moments, durations, st.sampled_from(ROUNDINGS), st.sampled_from([SHANGHAI, NEW_YORK]))
def test_points_are_spendable_a_minute_before_their_expiry_and_not_at_the_instant(
    earned_at: datetime, after: Duration, rounding: Rounding, zone: ZoneInfo
) -> None:
    expiry = expires_at(earned_at, after, rounding, zone)
    if expiry <= earned_at:
        return  # a zero duration rounded to the same minute: the rule check refuses it at load
    ledger, _ = earn(Ledger(), 100, "visit-1", earned_at, expires_at=expiry, reason="follow-up visit")

    if expiry - timedelta(minutes=1) >= earned_at:
        assert balances(ledger, expiry - timedelta(minutes=1)).available == 100
    assert balances(ledger, expiry).available == 0


def test_the_design_examples_in_shanghai_and_new_york() -> None:
    visit = datetime(2026, 3, 5, 14, 37, 22, tzinfo=SHANGHAI)

    assert expires_at(visit, Duration.parse("12mo"), "minute", SHANGHAI) == datetime(
        2027, 3, 5, 14, 38, tzinfo=SHANGHAI
    )
    assert expires_at(visit, Duration.parse("12mo"), "month", SHANGHAI) == datetime(2027, 4, 1, tzinfo=SHANGHAI)
    evening = datetime(2026, 3, 7, 22, 30, tzinfo=NEW_YORK)  # the night before clocks go forward
    expiry = expires_at(evening, Duration.parse("1d"), "minute", NEW_YORK)
    assert expiry.isoformat() == "2026-03-08T22:30:00-04:00"
    assert expiry.astimezone(UTC) - evening.astimezone(UTC) == timedelta(hours=23)  # a 23-hour day


def test_hours_are_elapsed_time_across_a_daylight_saving_change() -> None:
    evening = datetime(2026, 3, 7, 22, 30, tzinfo=NEW_YORK)

    assert expires_at(evening, Duration.parse("24h"), "minute", NEW_YORK).isoformat() == "2026-03-08T23:30:00-04:00"


def test_a_midnight_skipped_by_daylight_saving_rounds_to_the_first_instant_after_the_gap() -> None:
    santiago = ZoneInfo("America/Santiago")  # 2026-09-06 00:00 does not exist: clocks go from 00:00 to 01:00

    expiry = expires_at(datetime(2026, 9, 5, 15, 0, tzinfo=santiago), Duration.parse("1h"), "day", santiago)

    assert expiry.isoformat() == "2026-09-06T01:00:00-03:00"


def test_pending_points_become_available_on_the_local_calendar_rounded_up_to_the_minute() -> None:
    visit = datetime(2026, 1, 15, 10, 0, 30, tzinfo=SHANGHAI)

    assert available_at(visit, Duration.parse("3d"), SHANGHAI) == datetime(2026, 1, 18, 10, 1, tzinfo=SHANGHAI)
