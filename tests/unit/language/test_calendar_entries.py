"""Calendar entries in journeys.yaml (issue 18, design §3.1): a journey may start on a day of the year named as staff
name it, and every mistake is reported at file:line:column with what to write instead (the calendars' did-you-mean
for a misspelt 伏, solar term or festival)."""

from __future__ import annotations

from engine.journeys.calendar_definition import CalendarEntry
from engine.journeys.outline import outline
from engine.language.loader import check_text

FILE = """\
journeys:
  - id: sanfu-tie
    version: 1
    name: 三伏贴
    entry:
      calendar: {rule: {fu: 初伏}, offset: -2mo, at: "09:00", working_day: on_or_after, join_within: 45d, spread: 2h}
      when:
        - {field: patient.campaigns.sanfu-tie.last_attended_at, within: 13mo}
        - {field: event.season, gte: 2026}
    steps:
      - {id: eve, wait: {calendar: {fu: 中伏}, offset: -1d, at: "18:00"}}
      - {id: invite, message: {template: t, channels: [sms]}}
      - {id: attended-1, attended: {visit: 初伏}}
  - id: visit-care
    version: 1
    name: After a visit
    entry: {event: encounter.completed}
    steps:
      - {id: tip, message: {template: t, channels: [sms]}}
templates:
  t: {locales: {zh-CN: {body: 您好}, en: {body: Hello}}}
"""


def errors(text: str) -> list[str]:
    _, problems = check_text(text, "journeys.yaml")
    return [f"{p.line}:{p.column}: {p.message}" for p in problems if p.severity == "error"]


def test_a_calendar_campaign_with_its_audience_waits_and_attendance_loads() -> None:
    catalog, problems = check_text(FILE, "journeys.yaml")
    assert catalog is not None and problems == []
    entry = catalog.journey("sanfu-tie").entry
    assert isinstance(entry, CalendarEntry)
    assert str(entry.calendar.calendar_rule()) == "初伏 -2mo"
    assert (entry.event, entry.key, entry.reentry) == ("calendar.reached", None, "never")


def test_a_misspelt_fu_period_is_refused_at_its_place_with_the_name_meant() -> None:
    assert errors(FILE.replace("{fu: 初伏}, offset", "{fu: 初付}, offset")) == [
        "6:18: entry.calendar.rule: unknown 伏 period '初付'; did you mean '初伏'?"
    ]


def test_a_misspelt_solar_term_is_refused_with_the_name_meant() -> None:
    assert errors(FILE.replace("{fu: 初伏}, offset", "{solar_term: dongzi}, offset")) == [
        "6:18: entry.calendar.rule: unknown solar term 'dongzi'; did you mean 'dongzhi'?"
    ]


def test_a_rule_naming_two_days_or_none_is_refused() -> None:
    assert errors(FILE.replace("{fu: 初伏}, offset", "{fu: 初伏, festival: 春节}, offset")) == [
        "6:18: entry.calendar.rule: a calendar rule names exactly one of fixed, solar_term, lunar, festival, fu, "
        "jiu; this names several (festival, fu)"
    ]
    assert errors(FILE.replace("{fu: 初伏}, offset", '{fixed: "02-30"}, offset')) == [
        "6:18: entry.calendar.rule: no such day of the year: 02-30 (day is out of range for month)"
    ]


def test_an_offset_join_within_and_spread_out_of_bounds_are_refused_each_at_its_place() -> None:
    text = FILE.replace("-2mo", "2months").replace("45d", "400d").replace("spread: 2h", "spread: 7h")
    assert errors(text) == [
        "6:42: entry.calendar.offset: invalid calendar offset '2months': expected whole months then days, either "
        "negative: '-2mo', '-1mo-5d', '10d', '0d'",
        "6:103: entry.calendar.join_within: join_within 400d must be at least 0 and less than a year (next season "
        "comes then)",
        "6:117: entry.calendar.spread: spread 7h must be hours or minutes, more than 0 and at most 6h",
    ]


def test_a_calendar_entry_takes_no_key_its_instances_are_keyed_by_season() -> None:
    found = errors(FILE.replace("      when:\n", "      key: season\n      when:\n", 1))
    assert len(found) == 1 and found[0].startswith("7:7: 'key' is not allowed under journeys[0].entry")
    assert "keys allowed here: calendar, reentry, when" in found[0]


def test_the_audience_reads_calendar_reached_and_campaign_attendance_with_a_did_you_mean() -> None:
    text = FILE.replace("event.season", "event.seasn").replace("campaigns.sanfu-tie.last", "campaigns.sanfu-ti.last")
    assert errors(text) == [
        "8:19: unknown calendar journey 'sanfu-ti'; did you mean 'sanfu-tie'? (calendar journeys: sanfu-tie)",
        "9:19: calendar.reached has no field 'seasn'; did you mean 'season'?",
    ]
    assert errors(FILE.replace("last_attended_at", "last_attended")) == [
        "8:19: unknown campaign field 'last_attended'; did you mean 'last_attended_at'? (known: last_attended_at, "
        "last_season, seasons, visits_last_season)"
    ]


def test_a_calendar_wait_and_an_attended_step_need_a_journey_started_by_the_calendar() -> None:
    text = FILE.replace(
        "      - {id: tip, message: {template: t, channels: [sms]}}\n",
        "      - {id: tip, message: {template: t, channels: [sms]}}\n"
        '      - {id: eve, wait: {calendar: {jiu: 1}, at: "18:00"}}\n'
        "      - {id: came, attended: {visit: 一九}}\n",
    )
    assert errors(text) == [
        "20:26: a calendar wait needs a season: only a journey entering on a calendar rule (entry.calendar) has one",
        "21:20: attendance is recorded per season: only a journey entering on a calendar rule (entry.calendar) may "
        "have an attended step",
    ]


def test_a_calendar_wait_measures_from_its_day_not_also_from_another() -> None:
    found = errors(FILE.replace('offset: -1d, at: "18:00"}', 'offset: -1d, at: "18:00", from: entry}'))
    assert found == [
        "11:19: steps.0.wait: a wait measures from a calendar day or from 'from', not both: remove one",
    ]


def test_show_says_on_which_day_a_calendar_journey_starts_and_what_its_waits_measure_from() -> None:
    catalog, _ = check_text(FILE, "journeys.yaml")
    assert catalog is not None
    text = outline(catalog.journey("sanfu-tie"))
    assert (
        "enters on 初伏 -2mo at 09:00 (patient time), moved to a working day on or after it, joining within 45d, "
        "spread over 2h where patient.campaigns.sanfu-tie.last_attended_at within 13mo and event.season gte 2026 "
        "(once a season)"
    ) in text
    assert "1. eve: wait -1d from 中伏 of the season at 18:00 (patient time)" in text
    assert "3. attended-1: record attendance of 初伏" in text
