"""Calendar-triggered journeys on the Simulation (issue 18, design §3, §6.2): a 三伏贴 campaign whose booking
invitation goes out two months before 初伏, at 09:00 in each patient's own zone plus the patient's spread minute, to
exactly the patients in its audience; late registration within and outside join_within; attendance recorded per
visit and next year's invitation; a season whose official working days are not known yet held, never guessed; the
same events always deciding the same.

The 伏 dates are the almanac's (初伏 2025-07-20, 2026-07-15, 2027-07-20: the third 庚 day from 夏至, as
tests/unit/calendars/test_almanac.py checks against the Hong Kong Observatory's tables)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest

from engine.journeys import calendar_due, machine
from engine.journeys.catalog import Catalog
from engine.journeys.evolve import replay
from engine.journeys.explain_calendar import calendar_line
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.language.loader import check_text
from events import calendar as ca
from events import journey as jo
from events import patient as pa
from tests.builders import at, attended, booked, deceased, diagnosed, event, recorded

JOURNEYS = """\
settings: {hospital_timezone: Asia/Shanghai}
outreach:
  locales: [zh-CN, en]
  default_locale: zh-CN
  consent: {transactional: opt_out, care: opt_out, marketing: opt_out}
value_sets:
  chronic-respiratory:
    include: [{system: icd-10, codes: [J41, J42, J43, J44, J45, J47], match: prefix}]
  sanfu-services: {codes: [sanfu-tie]}
journeys:
  - id: sanfu-tie
    version: 1
    name: 三伏贴 summer acupoint campaign
    entry:
      calendar: {rule: {fu: 初伏}, offset: -2mo, at: "09:00", join_within: 45d, spread: 2h}
      when:
        - {field: patient.age, gte: 3}
        - any:
            - {field: patient.conditions, in_value_set: chronic-respiratory}
            - {field: patient.campaigns.sanfu-tie.last_attended_at, within: 13mo}
    steps:
      - {id: returning, branch: {cases: [{when: [{field: patient.campaigns.sanfu-tie.last_attended_at, within: 13mo}],
                                          goto: invite-again}], otherwise: invite}}
      - {id: invite, message: {template: sanfu-invite, channels: [sms], category: marketing}, next: await-booking}
      - {id: invite-again, message: {template: sanfu-invite-again, channels: [sms], category: marketing}}
      - id: await-booking
        wait_for:
          events:
            - {event: appointment.booked, when: [{field: event.service, in_value_set: sanfu-services}], goto: eve-1}
          timeout: 50d
          on_timeout: end
      - {id: eve-1, wait: {calendar: {fu: 初伏}, offset: -1d, at: "18:00"}}
      - {id: remind-1, message: {template: sanfu-tomorrow, channels: [sms], category: transactional}}
      - id: visit-1
        wait_for:
          events: [{event: appointment.attended, when: [{field: event.service, in_value_set: sanfu-services}],
                    goto: attended-1}]
          timeout: 2d
          on_timeout: eve-2
      - {id: attended-1, attended: {visit: 初伏}}
      - {id: eve-2, wait: {calendar: {fu: 中伏}, offset: -1d, at: "18:00"}}
      - {id: remind-2, message: {template: sanfu-tomorrow, channels: [sms], category: transactional}}
      - id: visit-2
        wait_for:
          events: [{event: appointment.attended, when: [{field: event.service, in_value_set: sanfu-services}],
                    goto: attended-2}]
          timeout: 2d
          on_timeout: end
      - {id: attended-2, attended: {visit: 中伏}}
templates:
  sanfu-invite: {locales: {zh-CN: {body: "三伏贴预约开始了"}, en: {body: "Book your sanfu patches"}}}
  sanfu-invite-again: {locales: {zh-CN: {body: "欢迎再来三伏贴"}, en: {body: "Welcome back"}}}
  sanfu-tomorrow: {locales: {zh-CN: {body: "明天贴敷"}, en: {body: "Your visit is tomorrow"}}}
"""

NEW_YORK = "America/New_York"


def load(text: str = JOURNEYS) -> Catalog:
    catalog, problems = check_text(text, "journeys.yaml")
    assert catalog is not None, problems
    return catalog


def register(
    patient: str, when: datetime, born: str = "1960-04-01", zone: str = "Asia/Shanghai"
) -> pa.PatientRegistered:
    return event(
        pa.PatientRegistered, patient, when, timezone=zone, language="zh-CN", birth_date=date.fromisoformat(born)
    )


def spread_minute(patient: str) -> int:
    """The design's sticky draw written out: SHA-256 of 'calendar|<journey>|<patient>', 48 bits, modulo the spread."""
    return int(hashlib.sha256(f"calendar|sanfu-tie|{patient}".encode()).hexdigest()[:12], 16) % 120


def invitations(sim: Simulation, patient: str) -> list[tuple[str, datetime]]:
    return [
        (m.template, m.occurred_at)
        for m in recorded(sim, patient, jo.MessageRequested)
        if m.template.startswith("sanfu-invite")
    ]


def reached(sim: Simulation, patient: str) -> list[tuple[int, str]]:
    return [(r.season, r.outcome) for r in recorded(sim, patient, ca.CalendarReached)]


# --- who is invited, and when ---------------------------------------------------------------------------------


def test_the_booking_invitation_reaches_exactly_the_eligible_patients_at_their_local_morning() -> None:
    sim = Simulation(load())
    jan = at("2026-01-05 10:00")
    sim.feed(
        [
            register("P-bronchitis", jan),
            diagnosed("P-bronchitis", at("2026-01-05 10:05"), "J42"),
            register("P-asthma-ny", jan, zone=NEW_YORK),
            diagnosed("P-asthma-ny", at("2026-01-05 10:05"), "J45.909"),
            register("P-no-code", jan),
            diagnosed("P-no-code", at("2026-01-05 10:05"), "I10"),
            register("P-child", jan, born="2024-03-01"),
            diagnosed("P-child", at("2026-01-05 10:05"), "J45"),
            register("P-deceased", jan),
            diagnosed("P-deceased", at("2026-01-05 10:05"), "J44"),
            deceased("P-deceased", at("2026-03-01 08:00")),
        ]
    )
    sim.run_until(at("2026-06-30 00:00"))

    # 初伏 2026 is 15 July: two months before is 15 May, 09:00 in Shanghai (01:00 UTC) and in New York (13:00 UTC).
    shanghai_nine = datetime(2026, 5, 15, 1, 0, tzinfo=UTC)
    new_york_nine = datetime(2026, 5, 15, 13, 0, tzinfo=UTC)
    assert invitations(sim, "P-bronchitis") == [
        ("sanfu-invite", shanghai_nine + timedelta(minutes=spread_minute("P-bronchitis")))
    ]
    assert invitations(sim, "P-asthma-ny") == [
        ("sanfu-invite", new_york_nine + timedelta(minutes=spread_minute("P-asthma-ny")))
    ]
    assert invitations(sim, "P-no-code") == invitations(sim, "P-child") == invitations(sim, "P-deceased") == []
    assert reached(sim, "P-no-code") == reached(sim, "P-child") == [(2026, "not_in_audience")]
    assert "patient.age gte 3" in recorded(sim, "P-child", ca.CalendarReached)[0].failed
    # A death clears the patient's schedule: the date never comes for them.
    assert reached(sim, "P-deceased") == []
    assert recorded(sim, "P-deceased", ca.CalendarScheduled)[-1].items == ()


def test_the_invitation_minute_stays_the_same_for_a_patient_every_season() -> None:
    sim = Simulation(load())
    sim.feed([register("P1", at("2026-01-05 10:00")), diagnosed("P1", at("2026-01-05 10:05"), "J44")])
    sim.run_until(at("2028-06-30 00:00"))

    sent = [moment.astimezone(UTC) for _, moment in invitations(sim, "P1")]
    assert [m.date() for m in sent] == [date(2026, 5, 15), date(2027, 5, 20), date(2028, 5, 14)]
    assert {(m.hour, m.minute) for m in sent} == {(1 + spread_minute("P1") // 60, spread_minute("P1") % 60)}


# --- late registration ------------------------------------------------------------------------------------------


# The audience by age alone: a registration is all it needs (a diagnosis recorded after the registration's decision
# would come after the patient was considered).
ANY_ADULT = JOURNEYS.replace(
    """        - any:
            - {field: patient.conditions, in_value_set: chronic-respiratory}
            - {field: patient.campaigns.sanfu-tie.last_attended_at, within: 13mo}
""",
    "",
)


def test_a_patient_registered_after_the_booking_date_joins_within_45_days_else_next_season() -> None:
    sim = Simulation(load(ANY_ADULT))
    sim.feed([register("P-late", at("2026-06-01 10:02")), register("P-too-late", at("2026-07-01 10:00"))])
    sim.run_until(at("2027-06-30 00:00"))

    # 15 May + 45 days is 29 June: the first joins at once, at its registration's decision time.
    first = recorded(sim, "P-late", ca.CalendarReached)[0]
    assert (first.season, first.outcome, first.scheduled_for) == (2026, "entered", at("2026-06-01 10:02"))
    assert [(t, m.date()) for t, m in invitations(sim, "P-late")] == [
        ("sanfu-invite", date(2026, 6, 1)),
        ("sanfu-invite", date(2027, 5, 20)),
    ]
    # The second is first considered for 2027 (初伏 2027-07-20, booking 2027-05-20).
    assert reached(sim, "P-too-late") == [(2027, "entered")]
    assert invitations(sim, "P-too-late")[0][1].date() == date(2027, 5, 20)


# --- visits, attendance and next year -------------------------------------------------------------------------


def attend_first_visit(sim: Simulation, patient: str) -> None:
    sim.feed([booked(patient, at("2026-05-16 12:00"), at("2026-07-15 09:00"), service="sanfu-tie")])
    sim.advance(patient, at("2026-07-15 08:00"))
    sim.feed([attended(patient, at("2026-07-15 09:30"), service="sanfu-tie")])


def test_each_fu_visit_attended_is_recorded_once_with_the_event_that_showed_it() -> None:
    sim = Simulation(load())
    sim.feed([register("P1", at("2026-01-05 10:00")), diagnosed("P1", at("2026-01-05 10:05"), "J44")])
    sim.run_until(at("2026-05-16 00:00"))
    attend_first_visit(sim, "P1")
    sim.run_until(at("2026-07-25 08:00"))
    second = attended("P1", at("2026-07-25 09:30"), appointment_id="A2", service="sanfu-tie")
    sim.feed([second, attended("P1", at("2026-07-25 09:40"), appointment_id="A3", service="sanfu-tie")])

    visits = recorded(sim, "P1", ca.CampaignAttended)
    assert [(v.season, v.visit) for v in visits] == [(2026, "初伏"), (2026, "中伏")]
    assert visits[1].matched_event_id == second.event_id
    reminders = [m.occurred_at for m in recorded(sim, "P1", jo.MessageRequested) if m.template == "sanfu-tomorrow"]
    assert reminders == [at("2026-07-14 18:00"), at("2026-07-24 18:00")]  # the eve of 初伏 and of 中伏
    attendance = sim.state("P1").calendar.attendance["sanfu-tie"]  # type: ignore[union-attr]
    assert (attendance.last_season, attendance.seasons, attendance.visits_last_season) == (
        2026,
        (2026,),
        ("初伏", "中伏"),
    )


def test_a_patient_who_attended_last_year_is_invited_again_with_the_welcome_back_template() -> None:
    sim = Simulation(load())
    for p in ("P-came", "P-stayed-away"):
        sim.feed([register(p, at("2026-01-05 10:00")), diagnosed(p, at("2026-01-05 10:05"), "J44")])
    sim.run_until(at("2026-05-16 00:00"))
    attend_first_visit(sim, "P-came")
    sim.run_until(at("2027-06-30 00:00"))

    assert [t for t, _ in invitations(sim, "P-came")] == ["sanfu-invite", "sanfu-invite-again"]
    assert [t for t, _ in invitations(sim, "P-stayed-away")] == ["sanfu-invite", "sanfu-invite"]
    assert reached(sim, "P-came") == [(2026, "entered"), (2027, "entered")]


# --- official working days: adjusted, and held when unknown ----------------------------------------------------

WORKING_DAY = JOURNEYS.replace(
    'calendar: {rule: {fu: 初伏}, offset: -2mo, at: "09:00", join_within: 45d, spread: 2h}',
    'calendar: {rule: {fixed: "05-01"}, at: "09:00", working_day: on_or_after}',
)


def test_a_booking_day_on_a_holiday_moves_to_the_next_official_working_day() -> None:
    # 国务院办公厅关于2026年部分节假日安排的通知: 劳动节 1 to 5 May 2026 off, Saturday 9 May a working day.
    sim = Simulation(load(WORKING_DAY))
    sim.feed([register("P1", at("2026-01-05 10:00")), diagnosed("P1", at("2026-01-05 10:05"), "J44")])
    sim.run_until(at("2026-05-31 00:00"))

    first = recorded(sim, "P1", ca.CalendarReached)[0]
    assert (first.occurrence, first.adjusted_from, first.scheduled_for) == (
        date(2026, 5, 6),
        date(2026, 5, 1),
        at("2026-05-06 09:00"),
    )


def test_a_season_whose_official_working_days_are_not_known_is_held_never_guessed() -> None:
    # The installed chinesecalendar holds the State Council's notices up to 2026: 1 May 2027 cannot be moved yet.
    sim = Simulation(load(WORKING_DAY))
    sim.feed([register("P1", at("2026-06-01 10:00")), diagnosed("P1", at("2026-06-01 10:05"), "J44")])
    sim.run_until(at("2027-12-31 00:00"))

    held = recorded(sim, "P1", ca.CalendarScheduled)[-1].items[0]
    assert (held.season, held.occurrence, held.due_at) == (2027, date(2027, 5, 1), None)
    assert held.held_reason is not None and "working days for 2027 are not known" in held.held_reason
    assert reached(sim, "P1") == [] and invitations(sim, "P1") == []
    assert machine.pending(sim.state("P1"), sim.catalog, at("2030-01-01 00:00")) == []


# --- determinism --------------------------------------------------------------------------------------------------


def year_of_events() -> list[object]:
    return [
        register("P1", at("2026-01-05 10:00")),
        diagnosed("P1", at("2026-01-05 10:05"), "J44"),
        register("P2", at("2026-01-06 10:00"), zone=NEW_YORK),
        diagnosed("P2", at("2026-01-06 10:05"), "J45"),
        booked("P1", at("2026-05-16 12:00"), at("2026-07-15 09:00"), service="sanfu-tie"),
        attended("P1", at("2026-07-15 09:30"), service="sanfu-tie"),
        register("P3", at("2026-06-10 10:00")),
        diagnosed("P3", at("2026-06-10 10:05"), "J47"),
    ]


def test_replaying_the_recorded_events_folds_to_the_same_state() -> None:
    sim = Simulation(load())
    sim.feed(year_of_events())  # type: ignore[arg-type]
    sim.run_until(at("2027-08-31 00:00"))

    for patient in ("P1", "P2", "P3"):
        assert replay(sim.recorded[patient], PatientState(patient)) == sim.state(patient)


def test_simulating_a_year_at_once_decides_as_event_by_event_with_time_passing_in_between() -> None:
    events = year_of_events()
    at_once = Simulation(load())
    at_once.feed(events)  # type: ignore[arg-type]
    at_once.run_until(at("2027-08-31 00:00"))
    stepwise = Simulation(load())
    for e in events:
        stepwise.run_until(e.recorded_at)  # type: ignore[attr-defined]
        stepwise.feed([e])  # type: ignore[list-item]
    stepwise.run_until(at("2027-08-31 00:00"))

    assert stepwise.recorded == at_once.recorded


def test_pending_reads_the_scheduled_date_and_computes_none(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulation(load())
    sim.feed([register("P1", at("2026-01-05 10:00")), diagnosed("P1", at("2026-01-05 10:05"), "J44")])

    def no_dates(*_: object) -> None:
        raise AssertionError("pending() computed a calendar date")

    monkeypatch.setattr(calendar_due, "next_item", no_dates)
    monkeypatch.setattr(type(sim.catalog.calendar), "season", no_dates)
    due = machine.pending(sim.state("P1"), sim.catalog, at("2026-12-31 00:00"))
    assert [(d.kind, d.due_at) for d in due] == [
        ("calendar", datetime(2026, 5, 15, 1, 0, tzinfo=UTC) + timedelta(minutes=spread_minute("P1")))
    ]


# --- explain ------------------------------------------------------------------------------------------------------


HELD_2027 = (
    "China's official working days for 2027 are not known: the installed chinesecalendar covers 2004 to 2026 "
    "(a newer release adds a year once the State Council publishes it)"
)


def test_explain_says_when_each_season_came_who_was_not_in_the_audience_and_why_a_season_is_held() -> None:
    sim = Simulation(load(WORKING_DAY))
    sim.feed([register("P1", at("2026-01-05 10:00")), diagnosed("P1", at("2026-01-05 10:05"), "J44")])
    sim.feed([register("P2", at("2026-01-05 10:00"))])
    sim.run_until(at("2026-12-31 00:00"))

    lines = [line for e in sim.recorded["P1"] + sim.recorded["P2"] if (line := calendar_line(e)) is not None]
    assert lines == [
        "calendar scheduled (first scheduled): sanfu-tie season 2026 on 2026-05-06 (moved from 2026-05-01), "
        "due 2026-05-06 09:00+08:00",
        "sanfu-tie season 2026 (05-01 09:00 = 2026-05-06, moved from 2026-05-01, due 2026-05-06 09:00+08:00): "
        f"entered; next: sanfu-tie season 2027 on 2027-05-01 held: {HELD_2027}",
        "calendar scheduled (first scheduled): sanfu-tie season 2026 on 2026-05-06 (moved from 2026-05-01), "
        "due 2026-05-06 09:00+08:00",
        "sanfu-tie season 2026 (05-01 09:00 = 2026-05-06, moved from 2026-05-01, due 2026-05-06 09:00+08:00): "
        "not in audience: (patient.conditions in value set chronic-respiratory or "
        "patient.campaigns.sanfu-tie.last_attended_at within 13mo) did not hold; "
        f"next: sanfu-tie season 2027 on 2027-05-01 held: {HELD_2027}",
    ]
    assert calendar_line(sim.recorded["P1"][0]) is None  # the registration: not a calendar event
