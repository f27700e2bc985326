"""Seasonal periods counted from the solar terms: the 伏 days of summer, the 九 days of winter, the 膏方节 span.

The counting is the almanac's convention applied to the library's solar terms and 干支 days (no astronomy here):
- 初伏 begins on the third 庚 day counting from 夏至 (夏至 itself counts when it is a 庚 day), 中伏 on the fourth;
  末伏 on the first 庚 day counting from 立秋 (立秋 itself counts). 中伏 lasts 10 or 20 days, the others 10.
- 一九 begins on 冬至; each 九 is nine days, so the Nth begins 9 * (N - 1) days after 冬至, up to 九九.
- The 膏方节 (the season for 膏方 herbal pastes) runs from 寒露 to the end of the following January.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from engine.calendars.errors import CalendarError
from engine.calendars.names import look_up
from engine.calendars.sexagenary import STEMS, heavenly_stem
from engine.calendars.terms import solar_term

FU_PERIODS: tuple[str, ...] = ("初伏", "中伏", "末伏")
_FU_NAMES: dict[str, str] = {
    spelling.casefold(): chinese
    for chinese, pinyin, english in (
        ("初伏", "chufu", "first fu"),
        ("中伏", "zhongfu", "middle fu"),
        ("末伏", "mofu", "last fu"),
    )
    for spelling in (chinese, pinyin, english, chinese.replace("初", "头"))  # 头伏 is a common name for 初伏
}
GENG = STEMS.index("庚")
JIU_NAMES: tuple[str, ...] = ("一九", "二九", "三九", "四九", "五九", "六九", "七九", "八九", "九九")


@dataclass(frozen=True, slots=True)
class DateSpan:
    """Whole days from ``first`` to ``last``, both included."""

    first: date
    last: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


def fu_name(name: str) -> str:
    """The 伏 period ``name`` stands for (初伏/头伏, 中伏, 末伏, or pinyin), as its Chinese name."""
    return look_up("伏 period", name, _FU_NAMES)


def first_geng_day(on_or_after: date) -> date:
    """The first 庚 day on or after ``on_or_after`` (庚 days come every ten days)."""
    stem = STEMS.index(heavenly_stem(on_or_after))
    return on_or_after + timedelta(days=(GENG - stem) % 10)


def fu_start(year: int, name: str) -> date:
    """The first day of 伏 period ``name`` (初伏, 中伏 or 末伏) in ``year``."""
    period = fu_name(name)
    if period == "末伏":
        return first_geng_day(solar_term(year, "立秋"))
    third_geng = first_geng_day(solar_term(year, "夏至")) + timedelta(days=20)
    return third_geng if period == "初伏" else third_geng + timedelta(days=10)


def fu_span(year: int, name: str) -> DateSpan:
    """The days of 伏 period ``name`` in ``year``: 中伏 runs up to the day before 末伏, the others ten days."""
    first = fu_start(year, name)
    last = fu_start(year, "末伏") - timedelta(days=1) if fu_name(name) == "中伏" else first + timedelta(days=9)
    return DateSpan(first, last)


def jiu_start(year: int, number: int) -> date:
    """The first day of the ``number``-th 九 (1 for 一九 … 9 for 九九) counted from the 冬至 of ``year``."""
    if not 1 <= number <= len(JIU_NAMES):
        raise CalendarError(f"no 九 numbered {number}: they are numbered 1 (一九) to 9 (九九)")
    return solar_term(year, "冬至") + timedelta(days=9 * (number - 1))


def jiu_span(year: int, number: int) -> DateSpan:
    """The nine days of the ``number``-th 九 counted from the 冬至 of ``year``."""
    first = jiu_start(year, number)
    return DateSpan(first, first + timedelta(days=8))


def gaofang_span(year: int) -> DateSpan:
    """The 膏方节 that begins in ``year``: from 寒露 to 31 January of the next year."""
    return DateSpan(solar_term(year, "寒露"), date(year + 1, 1, 31))
