"""The 24 solar terms (二十四节气): their names and, for any year, the instant and the date each one falls on.

The astronomy is tyme4py's (6tail's port of the 寿星天文历 algorithms: the Sun's apparent ecliptic longitude reaching
each multiple of 15 degrees). Instants and dates are in China Standard Time (UTC+8), the time of China's almanacs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from tyme4py.solar import SolarTerm  # type: ignore[import-untyped]

from engine.calendars.errors import CalendarError
from engine.calendars.names import look_up

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


@dataclass(frozen=True, slots=True)
class TermName:
    chinese: str
    pinyin: str
    english: str  # the Hong Kong Observatory's English names
    traditional: str = ""


# In the order they fall in a Gregorian year: 小寒 early in January to 冬至 late in December.
SOLAR_TERMS: tuple[TermName, ...] = (
    TermName("小寒", "xiaohan", "Moderate Cold"),
    TermName("大寒", "dahan", "Severe Cold"),
    TermName("立春", "lichun", "Spring Commences"),
    TermName("雨水", "yushui", "Spring Showers"),
    TermName("惊蛰", "jingzhe", "Insects Waken", "驚蟄"),
    TermName("春分", "chunfen", "Vernal Equinox"),
    TermName("清明", "qingming", "Bright and Clear"),
    TermName("谷雨", "guyu", "Corn Rain", "穀雨"),
    TermName("立夏", "lixia", "Summer Commences"),
    TermName("小满", "xiaoman", "Corn Forms", "小滿"),
    TermName("芒种", "mangzhong", "Corn on Ear", "芒種"),
    TermName("夏至", "xiazhi", "Summer Solstice"),
    TermName("小暑", "xiaoshu", "Moderate Heat"),
    TermName("大暑", "dashu", "Great Heat"),
    TermName("立秋", "liqiu", "Autumn Commences"),
    TermName("处暑", "chushu", "End of Heat", "處暑"),
    TermName("白露", "bailu", "White Dew"),
    TermName("秋分", "qiufen", "Autumnal Equinox"),
    TermName("寒露", "hanlu", "Cold Dew"),
    TermName("霜降", "shuangjiang", "Frost"),
    TermName("立冬", "lidong", "Winter Commences"),
    TermName("小雪", "xiaoxue", "Light Snow"),
    TermName("大雪", "daxue", "Heavy Snow"),
    TermName("冬至", "dongzhi", "Winter Solstice"),
)

_BY_NAME: dict[str, int] = {
    spelling.casefold(): index
    for index, term in enumerate(SOLAR_TERMS)
    for spelling in (term.chinese, term.pinyin, term.english, term.traditional)
    if spelling
}


def term_name(name: str) -> TermName:
    """The solar term ``name`` stands for: Chinese (simplified or traditional), pinyin without tones, or English."""
    return SOLAR_TERMS[look_up("solar term", name, _BY_NAME)]


def solar_term_instant(year: int, name: str) -> datetime:
    """The instant (China Standard Time, to the second) solar term ``name`` begins in Gregorian ``year``."""
    index = look_up("solar term", name, _BY_NAME)
    # tyme4py counts a year's terms from the 冬至 of the December before: 小寒 is its index 1 and this
    # December's 冬至 is index 0 of the next year.
    tyme_year, tyme_index = (year + 1, 0) if index == len(SOLAR_TERMS) - 1 else (year, index + 1)
    try:
        moment = SolarTerm.from_index(tyme_year, tyme_index).get_julian_day().get_solar_time()
    except ValueError as error:
        raise CalendarError(f"no solar term {name!r} in year {year}: {error}") from error
    instant = datetime(
        moment.get_year(),
        moment.get_month(),
        moment.get_day(),
        moment.get_hour(),
        moment.get_minute(),
        moment.get_second(),
        tzinfo=CHINA_STANDARD_TIME,
    )
    if instant.year != year:  # a library change in how it numbers terms must not move a date by a year
        raise CalendarError(f"solar term {name!r} of {year} computed in {instant.year}")
    return instant


def solar_term(year: int, name: str) -> date:
    """The date (China Standard Time) solar term ``name`` falls on in Gregorian ``year``."""
    return solar_term_instant(year, name).date()
