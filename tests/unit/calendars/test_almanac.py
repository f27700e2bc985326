"""Solar terms, the 伏 periods and the lunar festivals of 2026 to 2030, against the published almanac.

Sources of the expected values (typed in below, never computed):
- Hong Kong Observatory, Gregorian-Lunar Calendar Conversion Tables, 2026 to 2030
  (https://www.hko.gov.hk/en/gts/time/conversion.htm): the Gregorian date of each lunar month's first day, the
  leap month, and the date of each solar term, in Hong Kong Time (UTC+8, the same as China Standard Time). HKO
  computes them from the astronomical data of HM Nautical Almanac Office and the US Naval Observatory, and they
  agree with the Purple Mountain Observatory's 中国天文年历 for these years. 2030's 春节 is the case HKO's blog
  ("Which day is the Tuen Ng Festival for this year (2013)?", 3 May 2013) names: 3 February by the official
  almanacs, 2 February in some folk calendars, whose new moon falls just after midnight.
- US Naval Observatory, "Earth's Seasons: Equinoxes, Solstices, Perihelion, and Aphelion", 2026 to 2030, for the
  instants of the equinoxes and solstices (UTC, given here plus 8 hours).
- The 伏 dates are the almanac's (三伏: 入伏 on 初伏, 出伏 ten days after 末伏), as the 中国天文年历 counts them from
  夏至 and 立秋; they follow from the HKO solar-term dates and the 干支 day count.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from engine.calendars import (
    CHINA_STANDARD_TIME,
    festival,
    fu_span,
    fu_start,
    lunar_date,
    solar_term,
    solar_term_instant,
)

# Equinoxes and solstices, China Standard Time (USNO's UTC instant + 8 h, to the minute).
SEASONS = {
    (2026, "春分"): datetime(2026, 3, 20, 22, 46),
    (2026, "夏至"): datetime(2026, 6, 21, 16, 24),
    (2026, "秋分"): datetime(2026, 9, 23, 8, 5),
    (2026, "冬至"): datetime(2026, 12, 22, 4, 50),
    (2027, "春分"): datetime(2027, 3, 21, 4, 25),
    (2027, "夏至"): datetime(2027, 6, 21, 22, 11),
    (2027, "秋分"): datetime(2027, 9, 23, 14, 2),
    (2027, "冬至"): datetime(2027, 12, 22, 10, 42),
    (2028, "春分"): datetime(2028, 3, 20, 10, 17),
    (2028, "夏至"): datetime(2028, 6, 21, 4, 2),
    (2028, "秋分"): datetime(2028, 9, 22, 19, 45),
    (2028, "冬至"): datetime(2028, 12, 21, 16, 19),
    (2029, "春分"): datetime(2029, 3, 20, 16, 1),
    (2029, "夏至"): datetime(2029, 6, 21, 9, 48),
    (2029, "秋分"): datetime(2029, 9, 23, 1, 38),
    (2029, "冬至"): datetime(2029, 12, 21, 22, 14),
    (2030, "春分"): datetime(2030, 3, 20, 21, 52),
    (2030, "夏至"): datetime(2030, 6, 21, 15, 31),
    (2030, "秋分"): datetime(2030, 9, 23, 7, 27),
    (2030, "冬至"): datetime(2030, 12, 22, 4, 9),
}

# The solar terms the seasonal campaigns start from (立春, 立秋 for 末伏, 寒露 for the 膏方节), HKO's dates.
TERM_DATES = {
    (2026, "立春"): date(2026, 2, 4),
    (2026, "立秋"): date(2026, 8, 7),
    (2026, "寒露"): date(2026, 10, 8),
    (2026, "清明"): date(2026, 4, 5),
    (2027, "立春"): date(2027, 2, 4),
    (2027, "立秋"): date(2027, 8, 8),
    (2027, "寒露"): date(2027, 10, 8),
    (2027, "清明"): date(2027, 4, 5),
    (2028, "立春"): date(2028, 2, 4),
    (2028, "立秋"): date(2028, 8, 7),
    (2028, "寒露"): date(2028, 10, 8),
    (2028, "清明"): date(2028, 4, 4),
    (2029, "立春"): date(2029, 2, 3),
    (2029, "立秋"): date(2029, 8, 7),
    (2029, "寒露"): date(2029, 10, 8),
    (2029, "清明"): date(2029, 4, 4),
    (2030, "立春"): date(2030, 2, 4),
    (2030, "立秋"): date(2030, 8, 7),
    (2030, "寒露"): date(2030, 10, 8),
    (2030, "清明"): date(2030, 4, 5),
}

# 初伏, 中伏, 末伏 and the day after 三伏 ends (出伏).
FU = {
    2026: (date(2026, 7, 15), date(2026, 7, 25), date(2026, 8, 14), date(2026, 8, 24)),
    2027: (date(2027, 7, 20), date(2027, 7, 30), date(2027, 8, 9), date(2027, 8, 19)),
    2028: (date(2028, 7, 14), date(2028, 7, 24), date(2028, 8, 13), date(2028, 8, 23)),
    2029: (date(2029, 7, 19), date(2029, 7, 29), date(2029, 8, 8), date(2029, 8, 18)),
    2030: (date(2030, 7, 14), date(2030, 7, 24), date(2030, 8, 13), date(2030, 8, 23)),
}

# Each festival of lunar years 2026 to 2030 (腊八 and 除夕 of a lunar year fall in the next January or February).
FESTIVALS = {
    "春节": ("2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03"),
    "元宵": ("2026-03-03", "2027-02-20", "2028-02-09", "2029-02-27", "2030-02-17"),
    "端午": ("2026-06-19", "2027-06-09", "2028-05-28", "2029-06-16", "2030-06-05"),
    "七夕": ("2026-08-19", "2027-08-08", "2028-08-26", "2029-08-16", "2030-08-05"),
    "中秋": ("2026-09-25", "2027-09-15", "2028-10-03", "2029-09-22", "2030-09-12"),
    "重阳": ("2026-10-18", "2027-10-08", "2028-10-26", "2029-10-16", "2030-10-05"),
    "腊八": ("2027-01-15", "2028-01-04", "2029-01-22", "2030-01-11", "2031-01-01"),
    "除夕": ("2027-02-05", "2028-01-25", "2029-02-12", "2030-02-02", "2031-01-22"),
}


@pytest.mark.parametrize(("year", "name"), SEASONS, ids=str)
def test_equinoxes_and_solstices_begin_at_the_published_instant_within_two_minutes(year: int, name: str) -> None:
    published = SEASONS[(year, name)].replace(tzinfo=CHINA_STANDARD_TIME)
    assert abs(solar_term_instant(year, name) - published) <= timedelta(minutes=2)
    assert solar_term(year, name) == published.date()


@pytest.mark.parametrize(("year", "name"), TERM_DATES, ids=str)
def test_solar_terms_fall_on_the_published_date(year: int, name: str) -> None:
    assert solar_term(year, name) == TERM_DATES[(year, name)]


@pytest.mark.parametrize("year", FU)
def test_fu_periods_begin_on_the_almanac_dates_and_sanfu_ends_on_its_day(year: int) -> None:
    first, middle, last, ended = FU[year]
    assert (fu_start(year, "初伏"), fu_start(year, "中伏"), fu_start(year, "末伏")) == (first, middle, last)
    assert fu_span(year, "末伏").last + timedelta(days=1) == ended


@pytest.mark.parametrize("name", FESTIVALS)
def test_lunar_festivals_fall_on_the_published_dates(name: str) -> None:
    computed = tuple(festival(year, name).isoformat() for year in range(2026, 2031))
    assert computed == FESTIVALS[name]


def test_2028_has_a_leap_fifth_month_that_begins_on_23_june() -> None:
    assert lunar_date(2028, 5, 1, leap=True) == date(2028, 6, 23)
    assert lunar_date(2028, 6, 1) == date(2028, 7, 22)


def test_the_2030_new_year_is_the_official_almanacs_3_february_not_the_folk_calendars_2_february() -> None:
    assert festival(2030, "春节") == date(2030, 2, 3)
    assert festival(2029, "除夕") == date(2030, 2, 2)
