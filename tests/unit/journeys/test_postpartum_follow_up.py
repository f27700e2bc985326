"""postpartum-follow-up: EPDS check-ins at months 1, 3 and 6 after delivery, each reminded once if unanswered;
epds-escalation: an EPDS score of 13 or more, or any self-harm answer (item 10), gets an urgent psychologist task."""

import pytest

from tests.builders import (
    at,
    discharge,
    endings,
    flags,
    icd10,
    journey_score,
    questionnaire,
    sent,
    simulation,
    started,
    tasks,
)

P = "P-postpartum"
JOURNEY = "postpartum-follow-up"
ESCALATION = "epds-escalation"
DELIVERED = at("2026-02-10 11:00")


def delivered(**fields):
    fields.setdefault("department", "obstetrics")
    return discharge(P, DELIVERED, encounter_id="E-delivery", **fields)


def test_unanswered_check_ins_at_months_1_3_and_6_each_get_one_reminder():
    sim = simulation(delivered(diagnoses=(icd10("O80"),)))

    sim.run_until(at("2026-09-01 00:00"))

    assert sent(sim, P, JOURNEY) == [
        ("postpartum-epds-month-1", "2026-03-10 10:00+08:00"),
        ("postpartum-epds-reminder", "2026-03-17 10:00+08:00"),
        ("postpartum-epds-month-3", "2026-05-10 10:00+08:00"),
        ("postpartum-epds-reminder", "2026-05-17 10:00+08:00"),
        ("postpartum-epds-month-6", "2026-08-10 10:00+08:00"),
    ]
    assert endings(sim, P, JOURNEY) == [(JOURNEY, "completed", "completed")]


def test_answered_check_in_gets_no_reminder():
    # Given the month-1 questionnaire is answered two days after it was sent (a low score)
    sim = simulation(delivered(), questionnaire(P, at("2026-03-12 20:15"), "epds", score=6, q10=0))

    sim.run_until(at("2026-06-01 00:00"))

    # Then no month-1 reminder; month 3 is still asked (and reminded, being unanswered)
    assert sent(sim, P, JOURNEY) == [
        ("postpartum-epds-month-1", "2026-03-10 10:00+08:00"),
        ("postpartum-epds-month-3", "2026-05-10 10:00+08:00"),
        ("postpartum-epds-reminder", "2026-05-17 10:00+08:00"),
    ]
    assert tasks(sim, P) == []


def test_other_questionnaires_do_not_count_as_the_epds_answer():
    sim = simulation(delivered(), questionnaire(P, at("2026-03-12 20:15"), "satisfaction", score=9))

    sim.run_until(at("2026-03-20 00:00"))

    assert sent(sim, P, JOURNEY)[-1] == ("postpartum-epds-reminder", "2026-03-17 10:00+08:00")


def test_delivery_diagnosis_enters_from_any_department():
    sim = simulation(delivered(department="internal-medicine", diagnoses=(icd10("Z37.0"),)))

    sim.run_until(at("2026-03-11 00:00"))

    assert sent(sim, P, JOURNEY) == [("postpartum-epds-month-1", "2026-03-10 10:00+08:00")]


def test_discharge_without_delivery_starts_no_postpartum_journey():
    sim = simulation(delivered(department="internal-medicine", diagnoses=(icd10("J18.9"),)))

    sim.run_until(at("2026-09-01 00:00"))

    assert started(sim, P) == []


@pytest.mark.parametrize(("score", "q10"), [(13, 0), (21, 0), (5, 1), (0, 3)], ids=["13", "21", "q10=1", "q10=3"])
def test_high_epds_score_or_self_harm_answer_creates_an_urgent_psychologist_task(score, q10):
    answered = at("2026-03-12 20:15")
    sim = simulation(delivered(), questionnaire(P, answered, "epds", score=score, q10=q10))

    sim.run_until(at("2026-03-20 00:00"))

    (task,) = tasks(sim, P)
    assert task.journey_id == ESCALATION
    assert (task.queue, task.role, task.priority) == ("psychology", "psychologist", "urgent")
    assert task.title == "High EPDS score after delivery; assess for postpartum depression today"
    assert task.occurred_at == answered
    assert task.sla_due_at == at("2026-03-13 20:15")
    (flag,) = flags(sim, P)
    assert (flag.flag_reason, flag.weight, flag.level) == ("high EPDS score", 30, "low")
    assert endings(sim, P, ESCALATION) == [(ESCALATION, "completed", "completed")]


def test_epds_score_of_12_without_self_harm_answer_needs_no_psychologist():
    sim = simulation(delivered(), questionnaire(P, at("2026-03-12 20:15"), "epds", score=12, q10=0))

    sim.run_until(at("2026-03-20 00:00"))

    assert started(sim, P, ESCALATION) == []
    assert tasks(sim, P) == []


def test_high_score_on_another_instrument_does_not_escalate():
    sim = simulation(delivered(), questionnaire(P, at("2026-03-12 20:15"), "phq-9", score=20, q10=2))

    sim.run_until(at("2026-03-20 00:00"))

    assert tasks(sim, P) == []


def test_every_high_epds_answer_escalates_at_every_check_in():
    # Given high scores at month 1 and again at month 3
    sim = simulation(
        delivered(),
        questionnaire(P, at("2026-03-11 09:00"), "epds", score=14),
        questionnaire(P, at("2026-05-11 09:00"), "epds", score=16),
    )

    sim.run_until(at("2026-06-01 00:00"))

    # Then each answer gets its own urgent task; the single flag stays at its weight
    assert [t.occurred_at for t in tasks(sim, P)] == [at("2026-03-11 09:00"), at("2026-05-11 09:00")]
    assert journey_score(sim, P) == 30
