"""The sexagenary (干支) count of days: ten heavenly stems by twelve earthly branches, a cycle of 60 days."""

from __future__ import annotations

from datetime import date

from tyme4py.solar import SolarDay  # type: ignore[import-untyped]

STEMS = "甲乙丙丁戊己庚辛壬癸"
BRANCHES = "子丑寅卯辰巳午未申酉戌亥"


def sexagenary_day(day: date) -> str:
    """The 干支 name of ``day``, as the almanac gives it (e.g. '庚寅')."""
    name: str = SolarDay.from_ymd(day.year, day.month, day.day).get_sixty_cycle_day().get_sixty_cycle().get_name()
    return name


def sexagenary_index(day: date) -> int:
    """The place of ``day`` in the cycle: 0 for 甲子 up to 59 for 癸亥."""
    name = sexagenary_day(day)
    stem, branch = STEMS.index(name[0]), BRANCHES.index(name[1])
    # The stem and branch advance together, so the index is the n in 0..59 with n % 10 == stem, n % 12 == branch.
    return next(n for n in range(stem, 60, 10) if n % 12 == branch)


def heavenly_stem(day: date) -> str:
    """The heavenly stem (天干) of ``day``: the first character of its 干支."""
    return sexagenary_day(day)[0]
