"""A symptom diary (issue 18 §4): after a respiratory discharge the patient is asked every evening at 20:00 for a
0-10 symptom score through the questionnaire channel; the doctor gets one task, with the values as evidence, when the
scores rise (Mann-Kendall over the last five, Theil-Sen at least +0.5/day) or a week's mean is above seven; three
evenings without an answer open a call task for the nurses. The journey is written here so these tests do not move
with the shipped file's wording."""

from __future__ import annotations

from datetime import date, datetime

from engine.journeys.catalog import Catalog
from engine.journeys.definition import JourneysFile
from engine.journeys.simulation import Simulation
from engine.yamlfile.source import read_yaml
from events import checkins as ck
from events import findings as fi
from events import journey as jo
from events import relationships as rs
from events.base import Event
from events.patient import Contact
from tests.builders import at, discharge, event, local, recorded, registered, sent, tasks

DIARY = """\
settings: {hospital_timezone: Asia/Shanghai}
journeys:
  - id: symptom-diary
    version: 1
    name: Symptom diary after a respiratory stay
    entry: {event: encounter.discharged, key: encounter_id}
    steps:
      - id: diary
        checkin:
          instrument: symptom-diary
          item: score
          every: 1d
          at: "20:00"
          for: 14d
          ask: {template: diary-ask, channels: [sms], priority: 60}
          keep: 14
          alerts:
            - {name: rising, rising: {last: 5, alpha: 0.05, min_slope: 0.5}, goto: doctor}
            - {name: high-week, mean_above: {within: 7d, value: 7, at_least: 4}, goto: doctor}
            - {name: silent, missing: {in_a_row: 3}, goto: nurse-call}
          on_end: end
      - id: doctor
        task:
          queue: respiratory-clinic
          role: doctor
          title: Symptom diary trend; review the values
          sla: 1d
          priority: high
        next: diary
      - id: nurse-call
        task: {queue: care-team, title: No symptom diary for 3 days; call the patient, sla: 1d}
        next: diary
templates:
  diary-ask:
    locales: {zh-CN: {body: 请记录今天的症状评分（0-10）}, en: {body: "Please score today's symptoms (0-10)"}}
"""

PATIENT = "P-diary"
DISCHARGED = at("2027-03-01 10:00")


def _catalog() -> Catalog:
    # The model and the catalog, without the language's checks of the whole file (which learn the check-in step
    # separately: tests/unit/language).
    doc, problems = read_yaml(DIARY, "journeys.yaml")
    assert doc is not None, problems
    return Catalog.from_file(JourneysFile.model_validate(doc.data))


def diary(*events: Event) -> Simulation:
    sim = Simulation(_catalog())
    sim.feed(
        [registered(PATIENT, at("2027-02-20 09:00")), discharge(PATIENT, DISCHARGED, department="respiratory"), *events]
    )
    return sim


def answer(when: datetime, value: float, response_id: str, instrument: str = "symptom-diary") -> Event:
    """A diary entry as the webhook publishes it: the NRS score as the response's score and its item."""
    return event(
        fi.QuestionnaireCompleted,
        PATIENT,
        when,
        response_id=response_id,
        instrument=instrument,
        score=value,
        items={"score": value},
    )


def answers(*values: float, first_day: int = 1) -> list[Event]:
    """Answers on consecutive evenings from 2027-03-<first_day>, half an hour after each ask (response R<day>)."""
    return [answer(at(f"2027-03-{first_day + k:02d} 20:30"), v, f"R{first_day + k}") for k, v in enumerate(values)]


def alerts(sim: Simulation) -> list[ck.CheckinAlerted]:
    return recorded(sim, PATIENT, ck.CheckinAlerted)


def test_the_diary_asks_every_evening_at_20_00_from_the_day_of_discharge():
    sim = diary()

    sim.run_until(at("2027-03-04 00:00"))

    asks = [s for s in sent(sim, PATIENT) if s[0] == "diary-ask"]
    assert asks == [
        ("diary-ask", "2027-03-01 20:00+08:00"),
        ("diary-ask", "2027-03-02 20:00+08:00"),
        ("diary-ask", "2027-03-03 20:00+08:00"),
    ]


def test_a_rising_series_creates_one_task_with_its_values_as_evidence():
    sim = diary(*answers(2, 3, 3, 5, 6, 7))

    sim.run_until(at("2027-03-10 00:00"))

    (alert,) = alerts(sim)  # the 7 after it is one value since the alert: no second task
    assert (alert.alert, alert.kind, alert.next_step_id) == ("rising", "rising", "doctor")
    assert [v.value for v in alert.values] == [2, 3, 3, 5, 6]  # the last five when it turned
    assert (alert.statistic.tau, alert.statistic.sen_slope_per_day) == (0.948683, 1.0)
    assert 0.01 < alert.statistic.p_value < 0.05
    (task,) = tasks(sim, PATIENT)
    assert (task.queue, task.role, task.priority) == ("respiratory-clinic", "doctor", "high")
    assert task.occurred_at == at("2027-03-05 20:30")  # on the answer that made the trend
    responses = {e.response_id: e.event_id for e in recorded(sim, PATIENT, fi.QuestionnaireCompleted)}
    assert task.evidence == (alert.event_id, *(responses[f"R{d}"] for d in (1, 2, 3, 4, 5)))
    assert task.facts == (
        "symptom-diary score 2, 3, 3, 5, 6 on 03-01…03-05",
        "symptom-diary score rising: rising over the last 5 values: Mann-Kendall tau 0.95, one-sided p 0.011 < 0.05;"
        " Theil-Sen +1.00/day >= +0.50",
    )


def test_after_the_alert_the_diary_continues_and_needs_a_new_rise_for_a_second_task():
    # The rise to 6 alerts once; 7, 7, 7, 6, 6 after it is no new rise; 6, 6, 7, 8, 9 is. The week's high mean
    # the next day is another alert, with its own episode.
    sim = diary(*answers(2, 3, 3, 5, 6, 7, 7, 7, 6, 6, 7, 8, 9, 10))

    sim.run_until(at("2027-03-16 00:00"))

    assert [(a.alert, local(a.occurred_at)) for a in alerts(sim)] == [
        ("rising", "2027-03-05 20:30+08:00"),
        ("rising", "2027-03-13 20:30+08:00"),
        ("high-week", "2027-03-14 20:30+08:00"),
    ]
    assert [v.value for v in alerts(sim)[1].values] == [6, 6, 7, 8, 9]
    assert len(tasks(sim, PATIENT)) == 3
    asks = [s for s in sent(sim, PATIENT) if s[0] == "diary-ask"]
    assert len(asks) == 14  # one an evening, whatever the alerts
    assert len(recorded(sim, PATIENT, ck.CheckinRecorded)) == 14


def test_a_flat_series_creates_no_task():
    sim = diary(*answers(5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5))

    sim.run_until(at("2027-03-20 00:00"))

    assert alerts(sim) == []
    assert tasks(sim, PATIENT) == []
    assert len(recorded(sim, PATIENT, ck.CheckinRecorded)) == 14
    (end,) = recorded(sim, PATIENT, jo.JourneyCompleted)
    assert end.occurred_at == at("2027-03-15 20:00")  # the 14th ask's evening is over


def test_a_noisy_series_without_a_monotonic_trend_creates_no_task():
    sim = diary(*answers(4, 6, 3, 5, 4, 6, 3, 5, 4, 6, 3, 5, 4, 6))

    sim.run_until(at("2027-03-20 00:00"))

    assert alerts(sim) == [] and tasks(sim, PATIENT) == []


def test_a_week_with_a_mean_above_seven_creates_a_task():
    sim = diary(*answers(8, 9, 7, 8))

    sim.run_until(at("2027-03-06 00:00"))

    (alert,) = alerts(sim)
    assert (alert.alert, alert.kind) == ("high-week", "mean_above")
    assert (alert.statistic.mean, alert.statistic.count, alert.statistic.within) == (8.0, 4, "7d")
    assert len(tasks(sim, PATIENT)) == 1


def test_three_missed_check_ins_in_a_row_open_a_call_task():
    sim = diary(*answers(3, 4))  # answers on the 1st and 2nd, then silence

    sim.run_until(at("2027-03-07 00:00"))

    missed = recorded(sim, PATIENT, ck.CheckinMissed)
    assert [(m.n, local(m.occurred_at)) for m in missed[:3]] == [
        (3, "2027-03-04 20:00+08:00"),
        (4, "2027-03-05 20:00+08:00"),
        (5, "2027-03-06 20:00+08:00"),
    ]
    (alert,) = alerts(sim)
    assert (alert.alert, alert.statistic.missed_in_a_row) == ("silent", 3)
    (task,) = tasks(sim, PATIENT)
    assert (task.queue, task.title) == ("care-team", "No symptom diary for 3 days; call the patient")
    assert task.evidence == (alert.event_id,)
    # The diary goes on: the evening's ask is still made after the call task.
    assert ("diary-ask", "2027-03-06 20:00+08:00") in sent(sim, PATIENT)


def test_an_answer_of_another_instrument_or_before_the_first_ask_is_not_in_the_series():
    early = answer(at("2027-03-01 12:00"), 9, "early")
    other = answer(at("2027-03-01 21:00"), 9, "satisfaction", instrument="satisfaction")
    sim = diary(early, other)

    sim.run_until(at("2027-03-02 00:00"))

    assert recorded(sim, PATIENT, ck.CheckinRecorded) == []


def test_a_second_answer_the_same_evening_replaces_the_first():
    sim = diary(answer(at("2027-03-01 20:10"), 3, "a"), answer(at("2027-03-01 22:00"), 4, "b"))

    sim.run_until(at("2027-03-02 00:00"))

    (inst,) = sim.state(PATIENT).instances.values()
    assert [(v.n, v.value, v.response_id) for v in inst.checkin.values] == [(1, 4.0, "b")]


def test_a_childs_diary_is_asked_of_the_guardian():
    child = "P-diary-child"
    born = {"birth_date": date(2020, 6, 1)}  # six years old: a minor under outreach.family.minor_age 14
    mother = rs.Person(name="王芳", contact=Contact(phone="+8613800000000"), language="zh-CN")
    link = event(
        rs.RelationshipRecorded, child, at("2027-02-20 09:05"), relation_id="rel-mother", role="guardian", person=mother
    )
    consent = event(
        rs.RelationshipConsentGranted,
        child,
        at("2027-02-20 09:06"),
        relation_id="rel-mother",
        purposes=("care",),
        information=("questionnaires",),
        granted_by="guardian",
    )
    sim = Simulation(_catalog())
    sim.feed(
        [
            registered(child, at("2027-02-20 09:00"), **born),
            link,
            consent,
            discharge(child, DISCHARGED, department="respiratory"),
        ]
    )

    sim.run_until(at("2027-03-02 00:00"))

    (ask,) = [m for m in recorded(sim, child, jo.MessageRequested) if m.template == "diary-ask"]
    assert (ask.recipient.relation_id, ask.recipient.role, ask.information) == (
        "rel-mother",
        "guardian",
        "questionnaires",
    )
    (routed,) = recorded(sim, child, jo.MessageRouted)
    assert [s.rule for s in routed.skipped] == ["minor"]  # never the child
