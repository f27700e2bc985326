"""The 伏 and 九 periods, the 膏方节 span and the 干支 day count: the almanac's conventions, checked for any year."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendars import (
    CalendarError,
    UnknownNameError,
    fu_span,
    fu_start,
    gaofang_span,
    heavenly_stem,
    jiu_span,
    jiu_start,
    sexagenary_day,
    sexagenary_index,
    solar_term,
)

YEARS = st.integers(1950, 2100)


@settings(max_examples=80, deadline=None)
@given(YEARS)
def test_chufu_and_zhongfu_are_ten_days_apart_and_mofu_ten_or_twenty_days_after(year: int) -> None:
    first, middle, last = (fu_start(year, name) for name in ("初伏", "中伏", "末伏"))
    assert middle - first == timedelta(days=10)
    assert last - middle in (timedelta(days=10), timedelta(days=20))


@settings(max_examples=80, deadline=None)
@given(YEARS)
def test_every_fu_begins_on_a_geng_day_counted_from_xiazhi_and_liqiu(year: int) -> None:
    xiazhi, liqiu = solar_term(year, "夏至"), solar_term(year, "立秋")
    first, middle, last = (fu_start(year, name) for name in ("初伏", "中伏", "末伏"))
    assert {heavenly_stem(first), heavenly_stem(middle), heavenly_stem(last)} == {"庚"}
    gengs_from_xiazhi = [d for d in (xiazhi + timedelta(days=n) for n in range(40)) if heavenly_stem(d) == "庚"]
    assert gengs_from_xiazhi[2:4] == [first, middle]
    assert liqiu <= last < liqiu + timedelta(days=10)


def test_xiazhi_on_a_geng_day_is_the_first_geng_day_so_chufu_is_twenty_days_later() -> None:
    # 夏至 2021 (21 June) and 2023 (21 June) were 庚 days; the almanacs put 入伏 on 11 July both years.
    assert sexagenary_day(date(2021, 6, 21)) == "庚子"
    assert fu_start(2021, "初伏") == date(2021, 7, 11)
    assert fu_start(2023, "初伏") == date(2023, 7, 11)


def test_liqiu_on_a_geng_day_is_itself_the_first_day_of_mofu() -> None:
    # 立秋 2012 fell on 7 August, a 庚子 day: 末伏 began that day.
    assert solar_term(2012, "立秋") == date(2012, 8, 7)
    assert fu_start(2012, "末伏") == date(2012, 8, 7)


def test_zhongfu_lasts_until_mofu_and_the_others_ten_days() -> None:
    assert fu_span(2026, "中伏").last == date(2026, 8, 13)  # a 40-day 三伏: 中伏 is 20 days
    assert fu_span(2027, "中伏").last == date(2027, 8, 8)  # a 30-day 三伏: 中伏 is 10 days
    assert fu_span(2026, "初伏").last == date(2026, 7, 24)
    assert date(2026, 8, 20) in fu_span(2026, "末伏") and date(2026, 8, 24) not in fu_span(2026, "末伏")


def test_tou_fu_and_pinyin_name_the_same_period_and_a_misspelling_suggests_one() -> None:
    assert fu_start(2026, "头伏") == fu_start(2026, "chufu") == fu_start(2026, "初伏")
    with pytest.raises(UnknownNameError, match="unknown 伏 period '初付'; did you mean '初伏'"):
        fu_start(2026, "初付")


@settings(max_examples=200, deadline=None)
@given(st.dates(date(1950, 1, 1), date(2100, 12, 31)), st.integers(1, 400))
def test_the_ganzhi_count_repeats_every_sixty_days_and_advances_one_a_day(day: date, later: int) -> None:
    assert sexagenary_day(day + timedelta(days=60)) == sexagenary_day(day)
    assert sexagenary_index(day + timedelta(days=later)) == (sexagenary_index(day) + later) % 60


def test_the_ganzhi_index_counts_from_jiazi() -> None:
    # 2026-07-15 is 庚寅, the 27th day of the cycle (index 26), so 26 days earlier (2026-06-19) was 甲子.
    assert sexagenary_day(date(2026, 7, 15)) == "庚寅" and sexagenary_index(date(2026, 7, 15)) == 26
    assert sexagenary_index(date(2026, 7, 15) - timedelta(days=26)) == 0
    assert sexagenary_day(date(2026, 7, 15) - timedelta(days=26)) == "甲子"


@settings(max_examples=40, deadline=None)
@given(YEARS)
def test_the_nine_jiu_are_consecutive_nine_day_periods_from_dongzhi(year: int) -> None:
    spans = [jiu_span(year, n) for n in range(1, 10)]
    assert spans[0].first == solar_term(year, "冬至")
    assert all(b.first == a.last + timedelta(days=1) for a, b in itertools.pairwise(spans))
    assert spans[-1].last - spans[0].first == timedelta(days=80)


def test_sanjiu_of_winter_2026_begins_eighteen_days_after_dongzhi_in_january_2027() -> None:
    assert solar_term(2026, "冬至") == date(2026, 12, 22)
    assert jiu_start(2026, 3) == date(2027, 1, 9)
    with pytest.raises(CalendarError, match="no 九 numbered 10"):
        jiu_start(2026, 10)


def test_the_gaofang_season_runs_from_hanlu_to_the_end_of_january() -> None:
    season = gaofang_span(2026)
    assert (season.first, season.last) == (date(2026, 10, 8), date(2027, 1, 31))
    assert date(2026, 10, 7) not in season and date(2027, 1, 31) in season and date(2027, 2, 1) not in season
