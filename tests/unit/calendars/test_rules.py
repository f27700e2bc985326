"""Calendar rules as a journey will name them: when each falls in a year, with offsets, and the next time after a
day; a name that does not exist is refused with the closest one."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendars import (
    CalendarError,
    CalendarRule,
    NoSuchDateError,
    Offset,
    UnknownNameError,
    fu_start,
    lunar_date,
    next_occurrence,
    occurrences,
    solar_term,
)

TWO_MONTHS_BEFORE = Offset(months=-2)


def test_the_sanfu_booking_reminder_two_months_before_chufu() -> None:
    rule = CalendarRule("fu", name="初伏", offset=TWO_MONTHS_BEFORE)
    assert occurrences(rule, 2027) == [date(2027, 5, 20)]
    assert next_occurrence(rule, date(2026, 12, 5)) == date(2027, 5, 20)
    assert str(rule) == "初伏 -2mo"


def test_each_kind_of_rule_falls_where_its_calendar_puts_it_in_2026() -> None:
    assert occurrences(CalendarRule("fixed", month=3, day=12), 2026) == [date(2026, 3, 12)]
    assert occurrences(CalendarRule("solar_term", name="Cold Dew"), 2026) == [date(2026, 10, 8)]
    assert occurrences(CalendarRule("lunar", month=8, day=15), 2026) == [date(2026, 9, 25)]
    assert occurrences(CalendarRule("festival", name="中秋节"), 2026) == [date(2026, 9, 25)]
    assert occurrences(CalendarRule("fu", name="末伏"), 2026) == [date(2026, 8, 14)]
    # 一九 of the winter 2026-27 begins on 冬至 (22 December 2026); 三九 in January 2027.
    assert occurrences(CalendarRule("jiu", number=1), 2026) == [date(2026, 12, 22)]
    assert occurrences(CalendarRule("jiu", number=3), 2027) == [date(2027, 1, 9)]


def test_a_festival_of_late_winter_is_found_in_the_gregorian_year_it_falls_in() -> None:
    # 除夕 of lunar 2026 is 5 February 2027; Gregorian 2026 holds lunar 2025's, 16 February 2026.
    assert occurrences(CalendarRule("festival", name="除夕"), 2026) == [date(2026, 2, 16)]
    assert occurrences(CalendarRule("festival", name="除夕"), 2027) == [date(2027, 2, 5)]


def test_laba_falls_twice_in_2022_and_both_are_returned() -> None:
    assert occurrences(CalendarRule("festival", name="腊八"), 2022) == [date(2022, 1, 10), date(2022, 12, 30)]


def test_an_offset_that_crosses_the_new_year_counts_in_the_year_it_lands_in() -> None:
    # 春节 is 6 February 2027, 26 January 2028 and 13 February 2029: thirty days before each lands twice in 2027
    # (7 January, 27 December) and never in 2028.
    thirty_days_before_new_year = CalendarRule("festival", name="春节", offset=Offset(days=-30))
    assert occurrences(thirty_days_before_new_year, 2027) == [date(2027, 1, 7), date(2027, 12, 27)]
    assert occurrences(thirty_days_before_new_year, 2028) == []
    assert next_occurrence(thirty_days_before_new_year, date(2027, 12, 27)) == date(2029, 1, 14)


def test_a_month_offset_to_a_shorter_month_lands_on_its_last_day() -> None:
    assert occurrences(CalendarRule("fixed", month=8, day=31, offset=TWO_MONTHS_BEFORE), 2026) == [date(2026, 6, 30)]
    assert Offset(months=1, days=1).apply(date(2028, 1, 31)) == date(2028, 3, 1)  # months first, then days


def test_february_29th_and_a_missing_leap_month_fall_only_in_the_years_that_have_them() -> None:
    leap_day = CalendarRule("fixed", month=2, day=29)
    assert occurrences(leap_day, 2027) == []
    assert next_occurrence(leap_day, date(2026, 12, 5)) == date(2028, 2, 29)
    leap_fifth = CalendarRule("lunar", month=5, day=1, leap=True)
    assert occurrences(leap_fifth, 2027) == []
    assert next_occurrence(leap_fifth, date(2026, 1, 1)) == date(2028, 6, 23)


def test_next_occurrence_is_strictly_after_the_given_day() -> None:
    rule = CalendarRule("solar_term", name="夏至")
    assert next_occurrence(rule, date(2026, 6, 20)) == date(2026, 6, 21)
    assert next_occurrence(rule, date(2026, 6, 21)) == solar_term(2027, "夏至")


RULES = st.one_of(
    st.builds(CalendarRule, st.just("solar_term"), name=st.sampled_from(["立春", "夏至", "立秋", "寒露", "冬至"])),
    st.builds(CalendarRule, st.just("festival"), name=st.sampled_from(["春节", "端午", "中秋", "腊八", "除夕"])),
    st.builds(CalendarRule, st.just("fu"), name=st.sampled_from(["初伏", "中伏", "末伏"])),
    st.builds(CalendarRule, st.just("jiu"), number=st.integers(1, 9)),
    st.builds(CalendarRule, st.just("lunar"), month=st.integers(1, 12), day=st.integers(1, 30)),
)
OFFSETS = st.builds(Offset, months=st.integers(-14, 14), days=st.integers(-60, 60))


@settings(max_examples=60, deadline=None)
@given(RULES, OFFSETS, st.dates(date(1990, 1, 1), date(2090, 12, 31)))
def test_the_next_occurrence_is_the_first_of_the_years_occurrences_after_the_day(
    rule: CalendarRule, offset: Offset, after: date
) -> None:
    moved = CalendarRule(rule.kind, rule.name, rule.month, rule.day, rule.leap, rule.number, offset)
    found = next_occurrence(moved, after)
    assert found > after and found in occurrences(moved, found.year)
    in_between = [d for y in range(after.year, found.year + 1) for d in occurrences(moved, y) if after < d < found]
    assert in_between == []


@settings(max_examples=40, deadline=None)
@given(st.integers(1950, 2100), st.integers(-40, 40))
def test_a_day_offset_moves_every_occurrence_by_that_many_days(year: int, days: int) -> None:
    shifted = CalendarRule("fu", name="初伏", offset=Offset(days=days))
    assert occurrences(shifted, year) == [fu_start(year, "初伏") + timedelta(days=days)]


@pytest.mark.parametrize(
    ("kind", "name", "message"),
    [
        ("solar_term", "xiazi", "unknown solar term 'xiazi'; did you mean 'xiazhi'?"),
        ("solar_term", "夏止", "unknown solar term '夏止'; did you mean '夏至'?"),
        ("festival", "Mid Autumn", "unknown lunar festival 'Mid Autumn'; did you mean 'mid-autumn festival'?"),
        ("fu", "mofo", "unknown 伏 period 'mofo'; did you mean 'mofu'?"),
    ],
)
def test_an_unknown_name_is_refused_with_the_closest_name(kind: str, name: str, message: str) -> None:
    with pytest.raises(UnknownNameError) as refused:
        CalendarRule(kind, name=name)  # type: ignore[arg-type]
    assert str(refused.value) == message


def test_impossible_dates_and_kinds_are_refused_when_the_rule_is_made() -> None:
    with pytest.raises(CalendarError, match="no such day of the year: 02-30"):
        CalendarRule("fixed", month=2, day=30)
    with pytest.raises(CalendarError, match="no such lunar date: month 13"):
        CalendarRule("lunar", month=13, day=1)
    with pytest.raises(CalendarError, match="no 九 numbered 0"):
        CalendarRule("jiu", number=0)
    with pytest.raises(CalendarError, match="unknown calendar rule kind 'weekly'"):
        CalendarRule("weekly")  # type: ignore[arg-type]


def test_a_lunar_date_the_year_lacks_is_an_error_that_says_why() -> None:
    with pytest.raises(NoSuchDateError, match=r"lunar year 2027 has no leap month 5 \(it has no leap month\)"):
        lunar_date(2027, 5, 1, leap=True)
    with pytest.raises(NoSuchDateError, match=r"has no leap month 6 \(its leap month follows month 5\)"):
        lunar_date(2028, 6, 1, leap=True)
    with pytest.raises(NoSuchDateError, match="lunar year 2026's month 2 has 29 days, not a day 30"):
        lunar_date(2026, 2, 30)
