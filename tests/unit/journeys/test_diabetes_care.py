"""diabetes-care: glucose recheck reminder on day 11, nutrition review reminder on day 27, then a quarterly
review cycle; two missed cycles in a row flag the patient and create a call task, a visit resets the count."""

from tests.builders import (
    at,
    attended,
    cleared,
    diagnosed,
    flags,
    instances,
    journey_score,
    sent,
    simulation,
    started,
    tasks,
    visit,
)

P = "P-diabetes"
JOURNEY = "diabetes-care"


def diabetic(diagnosed_at: str = "2026-03-01 11:00"):
    return simulation(diagnosed(P, at(diagnosed_at), "E11.9"))


def test_new_diagnosis_gets_glucose_recheck_reminder_on_day_11_and_nutrition_review_on_day_27():
    sim = diabetic("2026-03-01 11:00")

    sim.run_until(at("2026-04-01 00:00"))

    assert sent(sim, P) == [
        ("diabetes-glucose-recheck", "2026-03-12 09:00+08:00"),
        ("diabetes-nutrition-review", "2026-03-28 09:00+08:00"),
    ]


def test_quarterly_review_comes_three_months_after_the_nutrition_reminder_and_repeats():
    sim = diabetic("2026-03-01 11:00")

    # When the first review is missed (no visit in its 30-day window)
    sim.run_until(at("2026-11-01 00:00"))

    # Then the next review comes three months after the missed window closed, still no flag after one miss
    assert sent(sim, P, JOURNEY)[2:] == [
        ("diabetes-quarterly-review", "2026-06-28 09:00+08:00"),
        ("diabetes-quarterly-review", "2026-10-28 09:00+08:00"),
    ]
    assert instances(sim, P, JOURNEY)[0].counters["missed_cycles"] == 1
    assert flags(sim, P) == []


def test_two_missed_cycles_flag_the_patient_and_create_a_call_task():
    sim = diabetic("2026-03-01 11:00")

    # When both the June and the October reviews pass without a visit
    sim.run_until(at("2027-01-01 00:00"))

    # Then the second window closing (27 November 09:00) raises the flag and a chronic-care call task
    (flag,) = flags(sim, P)
    assert flag.occurred_at == at("2026-11-27 09:00")
    assert flag.flag_reason == "two quarterly diabetes reviews missed in a row"
    # Its weight adds to the unanswered-outreach signal (three reminders in a row without a reply, +20): high
    assert (flag.weight, flag.score, flag.level) == (50, 70, "high")
    (task,) = tasks(sim, P)
    assert (task.queue, task.role, task.priority) == ("chronic-care", "nurse", "normal")
    assert task.title == "Diabetic patient missed two quarterly reviews; call"
    assert task.sla_due_at == at("2026-11-30 09:00")
    (cycle,) = instances(sim, P, JOURNEY)  # the cycle goes on: next review three months later
    assert cycle.waiting is not None
    assert cycle.waiting.due_at == at("2027-02-27 09:00")


def test_visit_in_the_review_window_resets_the_missed_count():
    # Given the June review was missed, but the patient comes for the October one
    sim = diabetic("2026-03-01 11:00")
    sim.run_until(at("2026-11-01 00:00"))
    sim.feed([visit(P, at("2026-11-05 10:00"))])

    # When the next review is missed too
    sim.run_until(at("2027-04-01 00:00"))

    # Then missed, kept, missed is not two in a row: no flag, no task; the next review is 3 months after the visit
    assert ("diabetes-quarterly-review", "2027-02-05 09:00+08:00") in sent(sim, P, JOURNEY)
    assert instances(sim, P, JOURNEY)[0].counters["missed_cycles"] == 1
    assert flags(sim, P) == []
    assert tasks(sim, P) == []


def test_visit_after_two_missed_cycles_clears_the_flag():
    sim = diabetic("2026-03-01 11:00")
    sim.run_until(at("2027-03-01 00:00"))
    assert journey_score(sim, P) == 50

    # When the patient attends an appointment after the February review
    sim.feed([attended(P, at("2027-03-03 10:00"))])

    # Then the count is back to zero and the flag is cleared
    (clear,) = cleared(sim, P, JOURNEY)
    # The unanswered-outreach signal was still open at that moment; the visit clears it right after
    assert (clear.score, clear.level) == (20, "low")
    assert sim.state(P).flags == {}
    assert instances(sim, P, JOURNEY)[0].counters["missed_cycles"] == 0


def test_second_diabetes_diagnosis_does_not_start_a_second_cycle():
    sim = diabetic("2026-03-01 11:00")
    sim.feed([diagnosed(P, at("2026-05-01 11:00"), "E11.65", condition_id="C2")])

    sim.run_until(at("2026-06-01 00:00"))

    assert len(started(sim, P, JOURNEY)) == 1


def test_other_diagnoses_start_no_diabetes_cycle():
    sim = simulation(diagnosed(P, at("2026-03-01 11:00"), "J45.909"))

    sim.run_until(at("2026-12-01 00:00"))

    assert started(sim, P) == []
