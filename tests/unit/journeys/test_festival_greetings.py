"""Holiday greetings on the lunar calendar (issue 18, design §5): a 除夕 greeting at 20:00 in the patient's zone, each
patient at their own minute over two hours, under the outreach policy like any marketing message: a minute after
21:00 waits for the end of quiet hours on 春节 morning, and a patient who had a marketing message in the last 30 days
gets none (marketing-monthly drops it). 除夕 of lunar 2026 is 5 February 2027 (the Hong Kong Observatory's tables, as
tests/unit/calendars/test_almanac.py checks)."""

from __future__ import annotations

import hashlib

from engine.journeys.simulation import Simulation
from events import calendar as ca
from events import journey as jo
from tests.builders import at, recorded, visit
from tests.unit.journeys.test_calendar_campaign import load, register

JOURNEYS = """\
settings: {hospital_timezone: Asia/Shanghai}
outreach:
  locales: [zh-CN, en]
  default_locale: zh-CN
  consent: {transactional: opt_out, care: opt_out, marketing: opt_out}
  quiet_hours: {start: "21:00", end: "08:00", timezone: patient, on_quiet: defer}
  caps:
    - {name: marketing-monthly, max: 1, per: 30d, categories: [marketing], on_cap: drop}
journeys:
  - id: spring-festival-greeting
    version: 1
    name: 春节 greetings
    entry:
      calendar: {rule: {festival: 除夕}, at: "20:00", spread: 2h}
      when: [{field: patient.age, gte: 18}]
    steps:
      - {id: greet, message: {template: greeting, channels: [sms], category: marketing, priority: 20}}
  - id: after-visit-offer
    version: 1
    name: An offer after a visit
    entry: {event: encounter.completed}
    steps:
      - {id: offer, message: {template: greeting, channels: [sms], category: marketing}}
templates:
  greeting: {locales: {zh-CN: {body: 新春快乐}, en: {body: Happy new year}}}
"""
EARLY, LATE, VISITED = "P-03", "P-04", "P-11"  # their minutes: 14, 81 and 21 after 20:00


def minute(patient: str) -> int:
    """The design's sticky draw written out: SHA-256 of 'calendar|<journey>|<patient>', 48 bits, modulo 120."""
    return int(hashlib.sha256(f"calendar|spring-festival-greeting|{patient}".encode()).hexdigest()[:12], 16) % 120


def greeted() -> Simulation:
    sim = Simulation(load(JOURNEYS))
    sim.feed([register(p, at("2026-03-02 10:00")) for p in (EARLY, LATE, VISITED)])
    sim.feed([visit(VISITED, at("2027-01-26 10:00"), encounter_id="E-visit")])
    sim.run_until(at("2027-02-07 00:00"))
    return sim


def test_the_greeting_goes_out_on_new_years_eve_at_each_patients_minute() -> None:
    sim = greeted()

    assert (minute(EARLY), minute(LATE), minute(VISITED)) == (14, 81, 21)
    requested = {
        p: [m.occurred_at for m in recorded(sim, p, jo.MessageRequested, "spring-festival-greeting")]
        for p in (EARLY, LATE)
    }
    assert requested == {EARLY: [at("2027-02-05 20:14")], LATE: [at("2027-02-05 21:21")]}
    assert [m.occurred_at for m in recorded(sim, EARLY, jo.MessageApproved)] == [at("2027-02-05 20:14")]


def test_a_minute_after_21_00_waits_for_the_end_of_quiet_hours_on_spring_festival_morning() -> None:
    sim = greeted()

    (deferred,) = recorded(sim, LATE, jo.MessageDeferred)
    assert (deferred.rule, deferred.until) == ("quiet_hours", at("2027-02-06 08:00"))
    assert [m.occurred_at for m in recorded(sim, LATE, jo.MessageApproved)] == [at("2027-02-06 08:00")]


def test_a_patient_offered_something_ten_days_earlier_gets_no_greeting_under_the_monthly_marketing_cap() -> None:
    sim = greeted()

    (reached,) = recorded(sim, VISITED, ca.CalendarReached)
    assert (reached.season, reached.occurrence.isoformat(), reached.outcome) == (2026, "2027-02-05", "entered")
    (dropped,) = recorded(sim, VISITED, jo.MessageSuppressed)
    assert (dropped.rule, dropped.cap) == ("cap", "marketing-monthly")
    assert [m.template for m in recorded(sim, VISITED, jo.MessageApproved)] == ["greeting"]  # the visit's offer
