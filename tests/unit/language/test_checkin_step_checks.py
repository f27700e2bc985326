"""The check-in step when journeys.yaml loads (issue 18 §4; engine/language/checkin_checks.py called by checks.py):
its instrument and item, where its alerts and its end go, no `next`, and a loop back to it after a task is no loop
without a wait (it waits between asks). Each mistake at file:line:column."""

from __future__ import annotations

from engine.language.loader import check_text

FILE = """\
journeys:
  - id: diary
    version: 1
    name: Diary
    entry: {event: encounter.discharged}
    steps:
      - id: diary
        checkin:
          instrument: symptom-diary
          item: score
          every: 1d
          at: "20:00"
          for: 14d
          ask: {template: t, channels: [sms]}
          alerts:
            - {name: rising, rising: {last: 5, alpha: 0.05, min_slope: 0.5}, goto: doctor}
          on_end: end
      - {id: doctor, task: {queue: q, title: Look at the diary, sla: 1d}, next: diary}
templates:
  t: {locales: {zh-CN: {body: 您好}, en: {body: Hello}}}
"""


def errors(text: str) -> list[str]:
    _, problems = check_text(text, "journeys.yaml")
    return [f"{p.line}:{p.column}: {p.message}" for p in problems if p.severity == "error"]


def test_a_diary_that_loops_back_after_its_task_loads() -> None:
    assert errors(FILE) == []


def test_an_unknown_instrument_and_an_unknown_alert_target_are_refused_at_their_place() -> None:
    assert errors(
        FILE.replace("instrument: symptom-diary", "instrument: symptom-diry").replace("goto: doctor", "goto: doctr")
    ) == [
        "9:23: unknown instrument 'symptom-diry'; did you mean 'symptom-diary'? (instruments: phq-9, epds, "
        "satisfaction, symptom-diary)",
        "16:84: unknown step 'doctr'; did you mean 'doctor'? (steps of this journey: diary, doctor, or 'end')",
    ]


def test_a_check_in_step_goes_on_by_its_alerts_and_on_end_never_by_next() -> None:
    assert errors(FILE.replace("      - id: diary\n", "      - id: diary\n        next: doctor\n", 1)) == [
        "8:15: a checkin step goes on to its alerts' goto or to on_end, never to next: write on_end instead"
    ]
