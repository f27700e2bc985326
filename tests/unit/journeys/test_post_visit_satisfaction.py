"""post-visit-satisfaction: a survey at 19:00 on the evening of an outpatient visit; a score of 6 or less opens a
service-recovery task and sends an apology, a higher score gets a thank-you; a sticky 10% holdout gets nothing."""

import pytest

from events import journey as jo
from tests.builders import (
    at,
    endings,
    messages,
    questionnaire,
    recorded,
    sent,
    simulation,
    started,
    tasks,
    visit,
)

JOURNEY = "post-visit-satisfaction"
SURVEYED = "P001"  # lands in the 90% survey arm for salt survey-2026
HOLDOUT = "P005"  # lands in the 10% holdout arm for salt survey-2026
VISIT = at("2026-03-06 10:30")
SURVEY = ("satisfaction-survey", "2026-03-06 19:00+08:00")


def arms(sim, patient):
    return [(b.branch, b.holdout) for b in recorded(sim, patient, jo.BranchTaken, JOURNEY) if b.step_id == "split"]


def test_outpatient_visit_gets_a_survey_at_19_00_that_evening():
    sim = simulation(visit(SURVEYED, VISIT, department="ent"))

    sim.run_until(at("2026-03-07 00:00"))

    assert arms(sim, SURVEYED) == [("survey", False)]
    assert sent(sim, SURVEYED) == [SURVEY]
    assert messages(sim, SURVEYED)[0].priority == 30


@pytest.mark.parametrize("score", [0, 4, 6])
def test_low_score_opens_a_service_recovery_task_and_sends_an_apology(score):
    answered = at("2026-03-06 21:00")
    sim = simulation(visit(SURVEYED, VISIT), questionnaire(SURVEYED, answered, "satisfaction", score=score))

    sim.run_until(at("2026-03-20 00:00"))

    (task,) = tasks(sim, SURVEYED)
    assert (task.queue, task.priority) == ("patient-relations", "high")
    assert task.title == "Unhappy patient after visit; call to recover the relationship"
    assert task.sla_due_at == at("2026-03-07 21:00")
    assert sent(sim, SURVEYED) == [SURVEY, ("service-recovery-apology", "2026-03-06 21:00+08:00")]
    assert endings(sim, SURVEYED) == [(JOURNEY, "completed", "completed")]


@pytest.mark.parametrize("score", [7, 10])
def test_high_score_gets_a_thank_you_and_no_task(score):
    sim = simulation(
        visit(SURVEYED, VISIT), questionnaire(SURVEYED, at("2026-03-07 08:00"), "satisfaction", score=score)
    )

    sim.run_until(at("2026-03-20 00:00"))

    assert sent(sim, SURVEYED) == [SURVEY, ("satisfaction-thanks", "2026-03-07 08:00+08:00")]
    assert tasks(sim, SURVEYED) == []
    assert endings(sim, SURVEYED) == [(JOURNEY, "completed", "completed")]


def test_unanswered_survey_ends_quietly_after_5_days():
    sim = simulation(visit(SURVEYED, VISIT))

    sim.run_until(at("2026-03-20 00:00"))

    assert sent(sim, SURVEYED) == [SURVEY]
    assert tasks(sim, SURVEYED) == []
    (end,) = recorded(sim, SURVEYED, jo.JourneyCompleted)
    assert end.occurred_at == at("2026-03-11 19:00")


def test_holdout_patient_gets_no_survey():
    sim = simulation(visit(HOLDOUT, VISIT))

    sim.run_until(at("2026-03-20 00:00"))

    assert arms(sim, HOLDOUT) == [("holdout", True)]
    assert messages(sim, HOLDOUT) == []
    assert endings(sim, HOLDOUT) == [(JOURNEY, "completed", "completed")]


def test_holdout_is_sticky_for_the_patient_across_visits():
    sim = simulation(
        visit(HOLDOUT, VISIT), visit(HOLDOUT, at("2026-05-11 15:00")), visit(HOLDOUT, at("2026-09-02 09:00"))
    )

    sim.run_until(at("2026-10-01 00:00"))

    assert arms(sim, HOLDOUT) == [("holdout", True)] * 3
    assert messages(sim, HOLDOUT, JOURNEY) == []
    # the three visits' points reach silver: the loyalty programme's welcome is no survey, and the holdout keeps it
    assert sent(sim, HOLDOUT) == [("tier-reached", "2026-09-05 09:00+08:00")]


def test_emergency_visit_gets_no_survey():
    sim = simulation(visit(SURVEYED, VISIT, encounter_class="emergency"))

    sim.run_until(at("2026-03-20 00:00"))

    assert started(sim, SURVEYED) == []


def test_visit_reported_more_than_3_days_late_gets_no_survey():
    sim = simulation(visit(SURVEYED, VISIT, recorded=at("2026-03-10 11:00")))

    sim.run_until(at("2026-03-20 00:00"))

    assert started(sim, SURVEYED) == []
