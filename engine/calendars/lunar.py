"""The Chinese lunar calendar (农历): the Gregorian date of a lunar date, and the lunar festivals.

The months are tyme4py's, computed from the new moons and the 中气 solar terms (China Standard Time), so a year
with a leap month (闰月) has it where the almanac puts it. ``year`` is always the lunar year: 腊八 and 除夕 of
lunar 2026 fall in January and February 2027.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tyme4py.lunar import LunarDay, LunarMonth, LunarYear  # type: ignore[import-untyped]

from engine.calendars.errors import CalendarError, NoSuchDateError
from engine.calendars.names import look_up


def leap_month(year: int) -> int:
    """Which month of lunar ``year`` is followed by a leap month (闰月), or 0 when the year has none."""
    try:
        month: int = LunarYear.from_year(year).get_leap_month()
    except ValueError as error:
        raise CalendarError(f"lunar year {year} is outside the calendar library's range: {error}") from error
    return month


def _checked_month(year: int, month: int, leap: bool) -> None:
    if not 1 <= month <= 12:
        raise NoSuchDateError(f"lunar month {month} does not exist: months are 1 to 12")
    repeated = leap_month(year)
    if leap and repeated != month:
        has = f"its leap month follows month {repeated}" if repeated else "it has no leap month"
        raise NoSuchDateError(f"lunar year {year} has no leap month {month} ({has})")


def lunar_month_length(year: int, month: int, leap: bool = False) -> int:
    """How many days (29 or 30) lunar ``month`` (the leap one if ``leap``) of lunar ``year`` has."""
    _checked_month(year, month, leap)
    count: int = LunarMonth.from_ym(year, -month if leap else month).get_day_count()
    return count


def lunar_date(year: int, month: int, day: int, leap: bool = False) -> date:
    """The Gregorian date of lunar ``year``-``month``-``day`` (in the leap month if ``leap``)."""
    length = lunar_month_length(year, month, leap)
    if not 1 <= day <= length:
        which = f"leap month {month}" if leap else f"month {month}"
        raise NoSuchDateError(f"lunar year {year}'s {which} has {length} days, not a day {day}")
    solar = LunarDay.from_ymd(year, -month if leap else month, day).get_solar_day()
    return date(solar.get_year(), solar.get_month(), solar.get_day())


@dataclass(frozen=True, slots=True)
class Festival:
    chinese: str
    pinyin: str
    english: str
    month: int
    day: int  # 0: the last day of the year (除夕: the 29th or the 30th of the 12th month)


FESTIVALS: tuple[Festival, ...] = (
    Festival("春节", "chunjie", "Spring Festival", 1, 1),
    Festival("元宵", "yuanxiao", "Lantern Festival", 1, 15),
    Festival("端午", "duanwu", "Dragon Boat Festival", 5, 5),
    Festival("七夕", "qixi", "Qixi Festival", 7, 7),
    Festival("中秋", "zhongqiu", "Mid-Autumn Festival", 8, 15),
    Festival("重阳", "chongyang", "Double Ninth Festival", 9, 9),
    Festival("腊八", "laba", "Laba Festival", 12, 8),
    Festival("除夕", "chuxi", "Lunar New Year's Eve", 12, 0),
)

_BY_NAME: dict[str, Festival] = {
    spelling.casefold(): festival
    for festival in FESTIVALS
    # 春节 and 除夕 are never written with 节; the others often are (中秋节, 端午节).
    for spelling in (festival.chinese, festival.pinyin, festival.english, f"{festival.chinese}节")
    if spelling not in ("春节节", "除夕节")
}


def festival_named(name: str) -> Festival:
    """The festival ``name`` stands for: Chinese (with or without 节), pinyin without tones, or English."""
    return look_up("lunar festival", name, _BY_NAME)


def festival(year: int, name: str) -> date:
    """The Gregorian date of festival ``name`` of lunar ``year``."""
    found = festival_named(name)
    if found.day == 0:
        # The eve of next year's 春节, whatever the length of the 12th month (or a leap 12th month) before it.
        return lunar_date(year + 1, 1, 1) - timedelta(days=1)
    return lunar_date(year, found.month, found.day)
